package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"text/template"

	"github.com/xray-tracer/xray-tracer/internal/local/emulators"
	"github.com/xray-tracer/xray-tracer/internal/local/procs"
	"github.com/xray-tracer/xray-tracer/internal/local/xrayapi"
	"github.com/xray-tracer/xray-tracer/internal/local/xrayview"
)

// startXRay starts what turns spans into the X-Ray view: the store the page
// reads, the PutTraceSegments stand-in that fills it, the page on
// cfg.xrayView, and the real collector running the repository's
// collector.yaml, as the ADOT layer's extension runs it, with an overlay
// that points its awsxray exporter at the stand-in and adds an exporter to
// Jaeger. The functions export to the collector, as they do in Lambda.
func (s *stack) startXRay(ctx context.Context, root, bin string) error {
	s.store = xrayview.NewStore()
	x, err := xrayapi.New(xrayapi.SendTo(s.store.Add))
	if err != nil {
		return err
	}
	s.xray = x
	ln, err := net.Listen("tcp", s.cfg.xrayView)
	if err != nil {
		return fmt.Errorf("the X-Ray view's address %s: %w", s.cfg.xrayView, err)
	}
	// The page's event stream lasts as long as the browser keeps it open:
	// stop closes this server rather than waiting for it to drain.
	s.serveOn(ln, xrayview.NewHandler(s.store))

	grpc, err := freeLoopback()
	if err != nil {
		return err
	}
	overlay := filepath.Join(s.dir, "collector-local.yaml")
	f, err := os.Create(overlay)
	if err != nil {
		return err
	}
	err = collectorOverlay.Execute(f, map[string]string{
		"HTTP": s.cfg.collector, "GRPC": grpc, "XRay": x.URL(), "Region": region, "Jaeger": "http://" + s.cfg.otlp + "/v1/traces",
	})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", overlay, err)
	}
	s.say("starting the OpenTelemetry Collector with collector.yaml on %s (OTLP/HTTP)", s.cfg.collector)
	return s.startProc(ctx, procs.Spec{
		Name: "collector", Path: bin,
		// The collector merges its configs in order, later over earlier,
		// as the fidelity tests merge their overrides over collector.yaml.
		Args:  []string{"--config=file:" + filepath.Join(root, "collector.yaml"), "--config=file:" + overlay},
		Env:   collectorEnv(),
		Ready: emulators.TCPReady(s.cfg.collector),
	})
}

// collectorEnv is the collector's whole environment: in Lambda the
// function's role gives it credentials and Lambda its region; here the
// X-Ray stand-in checks only the shape of the signature, so any credentials
// do. No instance metadata service is asked for a region.
func collectorEnv() []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.TempDir(),
		"AWS_ACCESS_KEY_ID=local",
		"AWS_SECRET_ACCESS_KEY=local",
		"AWS_REGION=" + region,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// collectorOverlay is merged over collector.yaml: only what differs on a
// laptop. The receivers move off the layer's fixed localhost ports (the
// fidelity tests' collector holds those) to the runner's; awsxray sends to
// the stand-in; the pipeline also exports to Jaeger (lists are replaced
// whole when configs merge, so awsxray is named again). The collector's own
// metrics are off, so that it holds no port but these.
var collectorOverlay = template.Must(template.New("collector").Parse(`# Written by cmd/local for each run, merged over collector.yaml.
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: {{.GRPC}}
      http:
        endpoint: {{.HTTP}}
exporters:
  awsxray:
    endpoint: {{.XRay}}
    region: {{.Region}}
  otlp_http/jaeger:
    traces_endpoint: {{.Jaeger}}
service:
  pipelines:
    traces:
      exporters: [awsxray, otlp_http/jaeger]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
`))
