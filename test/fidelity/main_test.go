// Package fidelity proves offline what X-Ray receives from the pattern: the
// real bootstrap binaries run behind a Lambda stand-in, export to the real
// collector (the awsxray exporter of the ADOT layer) running the repository's
// collector.yaml, which sends segment documents to an X-Ray stand-in. The
// tests assert the trace contract of DESIGN.md on those documents, for the
// exporter version nearest the layer the template deploys (v0.159.0) and for
// an older one (v0.120.0); and what reaches X-Ray's OTLP endpoint when the
// layer runs collector-xray-otlp.yaml instead.
package fidelity

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/xray-tracer/xray-tracer/internal/functions/pattern"
	"github.com/xray-tracer/xray-tracer/test/harness"
)

var (
	repoRoot   string
	bootstraps map[string]string
	collectors = map[string]string{} // variant → binary
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	var err error
	if repoRoot, err = pattern.RepoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "fidelity-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)

	start := time.Now()
	if bootstraps, err = pattern.Build(ctx, repoRoot, filepath.Join(dir, "functions")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, variant := range []string{harness.CollectorLayer, harness.CollectorOlder} {
		bin := filepath.Join(dir, "otelcol-xray-"+variant)
		fmt.Fprintf(os.Stderr, "fidelity: building the %s collector (minutes the first time, cached after)\n", variant)
		if err := harness.BuildCollector(ctx, repoRoot, variant, bin); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		collectors[variant] = bin
	}
	fmt.Fprintf(os.Stderr, "fidelity: built the functions and collectors in %v\n", time.Since(start).Round(time.Second))
	return m.Run()
}
