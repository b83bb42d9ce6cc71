package otelsetup

// This test runs in a copy of the package, in a module of another path
// (TestPackageWorksInAnotherModule builds it): nothing may depend on the
// path of the module the package came from.

import (
	"context"
	"errors"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

const copiedPath = "example.com/copied/tracing"

func TestScopeNameIsThePackagePath(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	ctx, parent := tp.Tracer("test").Start(context.Background(), "parent")
	_ = Capture(ctx, "step", func(context.Context) error { return nil })
	parent.End()
	for _, s := range rec.Ended() {
		if s.Name() == "step" && s.InstrumentationScope().Name != copiedPath {
			t.Errorf("scope name = %q, want %q", s.InstrumentationScope().Name, copiedPath)
		}
	}
}

func TestStackStartsOutsideThePackage(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	ctx, parent := tp.Tracer("test").Start(context.Background(), "parent")
	_ = Capture(ctx, "step", func(context.Context) error { return errors.New("boom") })
	parent.End()
	for _, s := range rec.Ended() {
		if s.Name() != "step" {
			continue
		}
		for _, kv := range s.Events()[0].Attributes {
			if kv.Key != "exception.stacktrace" {
				continue
			}
			lines := strings.Split(kv.Value.AsString(), "\n")
			if !strings.HasPrefix(lines[1], copiedPath+".TestStackStartsOutsideThePackage(") {
				t.Errorf("stack starts at %q, want the test:\n%s", lines[1], kv.Value.AsString())
			}
		}
	}
}
