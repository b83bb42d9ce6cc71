package local

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xray-tracer/xray-tracer/internal/functions/pattern"
	"github.com/xray-tracer/xray-tracer/internal/local/jaegerapi"
)

// TestLocalStackWithRunningJaeger starts a Jaeger of its own, as a user runs
// one with its UI (such as the official container image), and points the
// runner at it with JAEGER_URL: the runner starts no Jaeger, its ports
// taken or not; the functions' spans reach that Jaeger through the
// collector, the runner's through OTLP, and every request's trace is whole
// there; stopping the runner leaves that Jaeger running.
func TestLocalStackWithRunningJaeger(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole local stack and a Jaeger")
	}
	query, otlp := freeAddr(t), freeAddr(t)
	stopJaeger := startJaeger(t, query, otlp)
	defer stopJaeger()
	start := time.Now().Add(-time.Second)

	r := startRunnerEnv(t, []string{"JAEGER_URL=http://" + query}, "-otlp", otlp)
	if out := r.output(); !strings.Contains(out, "using the Jaeger at http://"+query) || strings.Contains(out, "starting Jaeger") {
		t.Errorf("the runner did not use the running Jaeger:\n%s", out)
	}
	var reqs []sent
	for _, p := range []string{"/", "/hello"} {
		s := get(t, http.MethodGet, "http://"+r.addrs["api"]+p)
		if s.status != http.StatusOK || !s.traceID.IsValid() {
			t.Fatalf("GET %s: %d, trace %v", p, s.status, s.traceID)
		}
		reqs = append(reqs, s)
	}
	jaeger := &jaegerapi.Client{BaseURL: "http://" + query, HTTP: &http.Client{Timeout: 10 * time.Second}}
	checkTraces(t, jaeger, reqs, start)

	if err := r.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-r.done:
		r.done <- err // for startRunner's cleanup
	case <-time.After(30 * time.Second):
		t.Fatal("the runner did not stop within 30 s")
	}
	if _, err := jaeger.Services(t.Context()); err != nil {
		t.Errorf("the user's Jaeger no longer answers after the runner stopped: %v", err)
	}
}

// startJaeger runs Jaeger with its query API on query and OTLP/HTTP on
// otlp: $JAEGER_BIN, else the runner's build in bin/jaeger (make tools, or
// an earlier run), built here if missing.
func startJaeger(t *testing.T, query, otlp string) (stop func()) {
	t.Helper()
	root, err := pattern.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := os.Getenv("JAEGER_BIN")
	if bin == "" {
		bin = filepath.Join(root, "bin", "jaeger")
		if _, err := os.Stat(bin); err != nil {
			t.Log("building Jaeger from tools/jaeger (minutes the first time)")
			build := exec.Command("go", "build", "-o", bin, "github.com/jaegertracing/jaeger/cmd/jaeger")
			build.Dir = filepath.Join(root, "tools", "jaeger")
			build.Env = append(os.Environ(), "CGO_ENABLED=0")
			if b, err := build.CombinedOutput(); err != nil {
				t.Fatalf("build Jaeger: %v\n%s", err, b)
			}
		}
	}
	config := filepath.Join(t.TempDir(), "jaeger.yaml")
	if err := os.WriteFile(config, fmt.Appendf(nil, jaegerConfig, query, otlp), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", "file:"+config)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop = func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	client := &jaegerapi.Client{BaseURL: "http://" + query, HTTP: &http.Client{Timeout: time.Second}}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for {
		if _, err := client.Services(ctx); err == nil {
			return stop
		}
		select {
		case <-done:
			t.Fatalf("Jaeger exited: %s", out.String())
		case <-ctx.Done():
			stop()
			t.Fatalf("Jaeger did not answer on %s within a minute", query)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// jaegerConfig is a Jaeger v2 with its traces in memory: the query API
// (%[1]s) and OTLP/HTTP (%[2]s) on the given addresses, nothing else on a
// fixed port.
const jaegerConfig = `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 10000
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: %[1]s
    grpc:
      endpoint: 127.0.0.1:0
receivers:
  otlp:
    protocols:
      http:
        endpoint: %[2]s
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`
