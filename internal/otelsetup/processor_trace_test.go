package otelsetup

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// traceBlockedExporter holds each export that carries a span of trace
// blocked until release is closed; others return at once.
type traceBlockedExporter struct {
	blocked trace.TraceID
	release chan struct{}
}

func (e *traceBlockedExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	for _, s := range spans {
		if s.SpanContext().TraceID() == e.blocked {
			<-e.release
			break
		}
	}
	return nil
}

func (e *traceBlockedExporter) Shutdown(context.Context) error { return nil }

// TestInvocationProcessorFlushWaitsForItsTrace: with several invocations
// in flight, a flush waits for the exports that may hold its own trace's
// spans, not for another invocation's export of other spans (its collector
// round trip is that invocation's to wait for); with no trace to go by it
// waits for all.
func TestInvocationProcessorFlushWaitsForItsTrace(t *testing.T) {
	slow, fast := trace.TraceID{1}, trace.TraceID{2}
	span := func(id trace.TraceID) sdktrace.ReadOnlySpan {
		return tracetest.SpanStub{SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: id, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled,
		})}.Snapshot()
	}
	in := func(id trace.TraceID) context.Context {
		return trace.ContextWithSpanContext(context.Background(), span(id).SpanContext())
	}
	tests := []struct {
		name string
		// before: the spans that end before the slow invocation's flush
		// takes what waits; after: those that end after it.
		before, after []trace.TraceID
		flushCtx      context.Context // the second flush's
		wantWait      bool
	}{
		{"another trace's export", []trace.TraceID{slow}, []trace.TraceID{fast}, in(fast), false},
		{"its spans inside another's export", []trace.TraceID{fast, slow}, nil, in(fast), true},
		{"no trace in the context", []trace.TraceID{slow}, []trace.TraceID{fast}, context.Background(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				exp := &traceBlockedExporter{blocked: slow, release: make(chan struct{})}
				p := newInvocationProcessor(exp)
				for _, id := range tt.before {
					p.OnEnd(span(id))
				}
				var wg sync.WaitGroup
				wg.Go(func() { _ = p.ForceFlush(in(slow)) })
				synctest.Wait() // the slow invocation's export is held
				for _, id := range tt.after {
					p.OnEnd(span(id))
				}
				ctx, cancel := context.WithTimeout(tt.flushCtx, time.Second)
				defer cancel()
				err := p.ForceFlush(ctx)
				waited := err != nil && strings.Contains(err.Error(), "still under way")
				if waited != tt.wantWait {
					t.Errorf("second flush: %v; want it to wait for the held export: %v", err, tt.wantWait)
				}
				close(exp.release)
				wg.Wait()
			})
		})
	}
}
