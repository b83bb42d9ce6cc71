package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"text/template"
	"time"

	"github.com/xray-tracer/xray-tracer/internal/local/emulators"
	"github.com/xray-tracer/xray-tracer/internal/local/jaegerapi"
	"github.com/xray-tracer/xray-tracer/internal/local/procs"
)

type jaegerBinary struct {
	path   string
	assets string // a jaeger-ui build, for a Jaeger without one embedded
	hasUI  bool
}

// findJaeger picks the Jaeger to run: $JAEGER_BIN, a jaeger on PATH (a
// release binary, with its UI), or tools/jaeger's build (no UI assets:
// $JAEGER_UI_ASSETS can name a jaeger-ui build).
func findJaeger(ctx context.Context, root string, say func(string, ...any)) (jaegerBinary, error) {
	j := jaegerBinary{assets: os.Getenv("JAEGER_UI_ASSETS")}
	if p := os.Getenv("JAEGER_BIN"); p != "" {
		j.path, j.hasUI = p, true
		return j, nil
	}
	if p := lookPath("jaeger"); p != "" {
		j.path, j.hasUI = p, true
		return j, nil
	}
	j.path = filepath.Join(root, "bin", "jaeger")
	if !emulators.UpToDate(j.path, filepath.Join(root, "tools", "jaeger", "go.mod"), filepath.Join(root, "tools", "jaeger", "go.sum")) {
		say("building Jaeger from tools/jaeger: the first build takes 6-15 minutes on 2 cores, later ones seconds")
	}
	err := buildTool(ctx, root, "jaeger", "github.com/jaegertracing/jaeger/cmd/jaeger", j.path, say)
	j.hasUI = j.assets != ""
	return j, err
}

// lookPath finds a program, for the messages that say what is missing.
func lookPath(name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		return ""
	}
	return p
}

// startJaeger runs Jaeger with its traces in memory, every endpoint on
// loopback: OTLP/HTTP on cfg.otlp, the API and UI on cfg.jaegerUI.
func (s *stack) startJaeger(ctx context.Context, bin jaegerBinary) error {
	if u := s.cfg.jaegerURL; u != "" {
		return s.useJaeger(ctx, u)
	}
	s.say("starting Jaeger on %s (OTLP/HTTP on %s)", s.cfg.jaegerUI, s.cfg.otlp)
	path := filepath.Join(s.dir, "jaeger.yaml")
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = jaegerConfig.Execute(f, map[string]string{"OTLP": s.cfg.otlp, "UI": s.cfg.jaegerUI, "Assets": bin.assets})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	s.jaeger = &jaegerapi.Client{BaseURL: "http://" + s.cfg.jaegerUI, HTTP: &http.Client{Timeout: 10 * time.Second}}
	return s.startProc(ctx, procs.Spec{
		Name: "jaeger", Path: bin.path, Args: []string{"--config", "file:" + path},
		Ready: func(ctx context.Context) error {
			if _, err := s.jaeger.Services(ctx); err != nil {
				return err
			}
			return emulators.TCPReady(s.cfg.otlp)(ctx)
		},
	})
}

// useJaeger checks that the Jaeger the user runs (such as the official
// container image, with its UI) answers at url and takes OTLP at cfg.otlp,
// and reads traces from it; the runner starts none and stops none.
func (s *stack) useJaeger(ctx context.Context, url string) error {
	s.say("using the Jaeger at %s (OTLP/HTTP on %s)", url, s.cfg.otlp)
	s.jaeger = &jaegerapi.Client{BaseURL: url, HTTP: &http.Client{Timeout: 10 * time.Second}}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := s.jaeger.Services(ctx); err != nil {
		return fmt.Errorf("the Jaeger at %s does not answer its query API: %w", url, err)
	}
	if err := emulators.TCPReady(s.cfg.otlp)(ctx); err != nil {
		return fmt.Errorf("the Jaeger at %s takes no OTLP/HTTP at %s (set -otlp): %w", url, s.cfg.otlp, err)
	}
	return nil
}

// jaegerConfig is Jaeger v2's configuration (an OpenTelemetry Collector's):
// OTLP in, traces kept in memory, the query service with its UI. Its own
// metrics are off, so that it holds no port but these.
var jaegerConfig = template.Must(template.New("jaeger").Parse(`# Written by cmd/local for each run.
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
  jaeger_query:
    storage:
      traces: memstore
    enable_tracing: false
    http:
      endpoint: {{.UI}}
    grpc:
      endpoint: 127.0.0.1:0
{{- if .Assets}}
    ui:
      assets_path: {{.Assets}}
{{- end}}
receivers:
  otlp:
    protocols:
      http:
        endpoint: {{.OTLP}}
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`))
