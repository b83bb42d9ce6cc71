package fidelity

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xray-tracer/xray-tracer/test/harness"
)

// scenario runs the pattern with cfg, sends paths through it, and returns
// what was sent and every segment document X-Ray received.
type scenario struct {
	xray *harness.XRay
	reqs []harness.Request
	docs []harness.Segment
}

// runScenario starts collector variant, the X-Ray stand-in and the pattern,
// sends paths, and waits until every function's spans reached X-Ray.
func runScenario(t *testing.T, variant string, cfg harness.PatternConfig, paths ...string) scenario {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	xray, err := harness.NewXRay()
	if err != nil {
		t.Fatal(err)
	}
	defer xray.Close()
	colCfg := harness.CollectorConfig{
		Binary:       collectors[variant],
		Config:       filepath.Join(repoRoot, "collector.yaml"),
		XRayEndpoint: xray.URL(),
		Region:       harness.Region,
	}
	col, err := harness.StartCollector(ctx, colCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = col.Close()
		if t.Failed() {
			t.Logf("collector log:\n%s", col.Logs())
		}
	}()

	cfg.Bootstraps, cfg.XRay = bootstraps, xray
	var out strings.Builder
	cfg.Stderr = &out
	if testing.Verbose() {
		cfg.Stderr = io.MultiWriter(&out, os.Stderr)
	}
	p, err := harness.StartPattern(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	sc := scenario{xray: xray}
	for _, path := range paths {
		req, _ := p.Request(ctx, path) // failures on purpose are part of some scenarios
		sc.reqs = append(sc.reqs, req)
	}
	err = harness.WaitForInvocations(ctx, xray, sc.reqs)
	sc.docs = xray.Segments()
	if err != nil {
		t.Fatalf("not every invocation's spans reached X-Ray: %v\nfunctions' output:\n%s", err, out.String())
	}
	return sc
}

func findInvocation(docs []harness.Segment, inv harness.Invocation) *harness.Segment {
	return harness.FindInvocation(docs, inv)
}

// below returns the documents under the document with id, depth-first.
func below(docs []harness.Segment, id string) []harness.Segment {
	var out []harness.Segment
	for _, d := range harness.Flatten(docs) {
		if d.ParentID == id {
			out = append(out, d)
			out = append(out, below(docs, d.ID)...)
		}
	}
	return out
}

func named(docs []harness.Segment, name string) []harness.Segment {
	var out []harness.Segment
	for _, d := range docs {
		if d.Name == name {
			out = append(out, d)
		}
	}
	return out
}

func one(t *testing.T, docs []harness.Segment, name, where string) harness.Segment {
	t.Helper()
	found := named(docs, name)
	if len(found) != 1 {
		var names []string
		for _, d := range docs {
			names = append(names, d.Name)
		}
		t.Fatalf("%s: want one %q, got %d among %q", where, name, len(found), names)
	}
	return found[0]
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func variants() []string { return []string{harness.CollectorLayer, harness.CollectorNewest} }

func TestCollectorConfigIsValid(t *testing.T) {
	for _, variant := range variants() {
		t.Run(variant, func(t *testing.T) {
			err := harness.ValidateCollectorConfig(context.Background(), harness.CollectorConfig{
				Binary: collectors[variant],
				Config: filepath.Join(repoRoot, "collector.yaml"),
				Region: harness.Region,
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
