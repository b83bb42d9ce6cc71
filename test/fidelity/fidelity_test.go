package fidelity

import (
	"bytes"
	"context"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest"
	"github.com/xray-tracer/xray-tracer/test/harness"
)

// scenario runs the pattern with cfg, sends paths through it, and returns
// what was sent and every segment document X-Ray received.
type scenario struct {
	xray *harness.XRay
	reqs []harness.Request
	docs []harness.Segment
}

// A path is how spans leave the functions: the collector variant that
// turns them into segments, and the exporter the functions use.
type path struct {
	collector string // harness.CollectorLayer or harness.CollectorOlder
	// export is "otlp" (to the collector layer's extension) or "xrayudp"
	// (to Lambda's X-Ray agent, whose stand-in relays the spans to the same
	// collector, so that both paths are judged by the same translation).
	export string
}

func (p path) String() string { return p.collector + "/" + p.export }

// paths are the export paths every fidelity test runs through.
func paths() []path {
	return []path{
		{harness.CollectorLayer, "otlp"},
		{harness.CollectorOlder, "otlp"},
		{harness.CollectorLayer, "xrayudp"},
	}
}

// runScenario starts the collector, the X-Ray stand-in and the pattern on
// export path p, sends paths, and waits until every function's spans reached
// X-Ray.
func runScenario(t *testing.T, p path, cfg harness.PatternConfig, requests ...string) scenario {
	t.Helper()
	variant := p.collector
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

	if p.export == "xrayudp" {
		agent, err := otelsetuptest.NewXRayAgent()
		if err != nil {
			t.Fatal(err)
		}
		defer agent.Close()
		agent.Forward(relay(t))
		cfg.Env = maps.Clone(cfg.Env)
		if cfg.Env == nil {
			cfg.Env = map[string]string{}
		}
		cfg.Env["OTEL_TRACES_EXPORTER"], cfg.Env["AWS_XRAY_DAEMON_ADDRESS"] = "xrayudp", agent.Addr
	}
	cfg.Bootstraps, cfg.XRay = bootstraps, xray
	var out strings.Builder
	cfg.Stderr = &out
	if testing.Verbose() {
		cfg.Stderr = io.MultiWriter(&out, os.Stderr)
	}
	pat, err := harness.StartPattern(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pat.Close()

	sc := scenario{xray: xray}
	for _, r := range requests {
		req, _ := pat.Request(ctx, r) // failures on purpose are part of some scenarios
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

func variants() []string { return []string{harness.CollectorLayer, harness.CollectorOlder} }

// relay posts each OTLP request the agent stand-in decodes to the
// collector's OTLP/HTTP receiver.
func relay(t *testing.T) func([]byte) {
	return func(payload []byte) {
		resp, err := http.Post("http://"+harness.OTLPHTTPAddr+"/v1/traces", "application/x-protobuf", bytes.NewReader(payload))
		if err != nil {
			t.Errorf("relay to the collector: %v", err)
			return
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("relay to the collector: %s", resp.Status)
		}
	}
}

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
