package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestReportHasNoFormatDebris: the prose is printed as a value, never as a
// format, so a percent sign in it stays one ("7%" once came out as
// "7%!(MISSING)").
func TestReportHasNoFormatDebris(t *testing.T) {
	ds := []time.Duration{time.Millisecond, 2 * time.Millisecond}
	r := &report{Variants: []variant{{id: "a", title: "untraced"}, {id: "b", title: "otelsetup"}, {id: "c", title: "stock"}}, Plan: short,
		Size: map[string]int64{}, Init: map[string][]time.Duration{}, Warm: map[string][]time.Duration{},
		Growth: map[string]map[string][]time.Duration{}, RSS: map[string][2]int64{}, Concurrency: map[string]concurrencyResult{}}
	for _, v := range r.Variants {
		r.Size[v.id], r.Init[v.id], r.Warm[v.id], r.RSS[v.id] = 1, ds, ds, [2]int64{1, 2}
		r.Concurrency[v.id] = concurrencyResult{durations: ds, wall: time.Second}
	}
	for _, g := range growthSizes {
		r.Growth[g.name] = map[string][]time.Duration{"a": ds, "b": ds, "c": ds}
	}
	var b strings.Builder
	if err := r.write(&b); err != nil {
		t.Fatal(err)
	}
	if i := strings.Index(b.String(), "%!"); i >= 0 {
		t.Errorf("report has format debris: %q", b.String()[max(0, i-40):min(len(b.String()), i+40)])
	}
}

// TestStdoutLeavesStderrOut: what a command says on stderr (the go
// command's "go: downloading …") stays out of the output kept for a table,
// and comes with the error when the command fails.
func TestStdoutLeavesStderrOut(t *testing.T) {
	out, err := stdout(exec.Command("sh", "-c", "echo table; echo 'go: downloading x' >&2"))
	if err != nil || string(out) != "table\n" {
		t.Errorf("stdout() = %q, %v; want %q, nil", out, err, "table\n")
	}
	_, err = stdout(exec.Command("sh", "-c", "echo broken >&2; exit 3"))
	if err == nil || !strings.Contains(err.Error(), "broken") {
		t.Errorf("stdout() error = %v, want one holding stderr", err)
	}
}
