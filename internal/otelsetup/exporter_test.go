package otelsetup

import (
	"context"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// TestExportersRefuseAfterShutdown: otelsetup's own exporters say so when
// asked to export after their Shutdown, instead of dropping in silence. (The
// console's is OpenTelemetry's stdout exporter, behind a simple span
// processor that stops handing it spans at Shutdown.)
func TestExportersRefuseAfterShutdown(t *testing.T) {
	noEnv := func(string) string { return "" }
	tests := []struct {
		name string
		new  func(t *testing.T) sdktrace.SpanExporter
	}{
		{"otlphttp", func(t *testing.T) sdktrace.SpanExporter {
			e, err := newOTLPHTTPExporter(noEnv)
			if err != nil {
				t.Fatal(err)
			}
			return e
		}},
		{"xrayudp", func(t *testing.T) sdktrace.SpanExporter {
			e, err := newXRayUDPExporter(noEnv)
			if err != nil {
				t.Fatal(err)
			}
			return e
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.new(t)
			if err := e.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := e.ExportSpans(context.Background(), sampleSpans(t)); err == nil || !strings.Contains(err.Error(), "shut down") {
				t.Errorf("ExportSpans after Shutdown = %v, want an error saying it is shut down", err)
			}
		})
	}
}
