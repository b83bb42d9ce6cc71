package otelsetup

import (
	"context"
	"strings"
	"sync"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// countingExporter keeps the size of each export.
type countingExporter struct {
	mu      sync.Mutex
	batches []int
	block   chan struct{} // if set, exports wait for it
}

func (e *countingExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	if e.block != nil {
		<-e.block
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.batches = append(e.batches, len(spans))
	return nil
}

func (e *countingExporter) Shutdown(context.Context) error { return nil }

func (e *countingExporter) total() (n int, batches []int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, b := range e.batches {
		n += b
	}
	return n, append([]int(nil), e.batches...)
}

func endSpans(p *invocationProcessor, n int, sampled bool) {
	flags := trace.TraceFlags(0)
	if sampled {
		flags = trace.FlagsSampled
	}
	for range n {
		p.OnEnd(tracetest.SpanStub{SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: flags,
		})}.Snapshot())
	}
}

func TestInvocationProcessor(t *testing.T) {
	tests := []struct {
		name        string
		sampled     int
		unsampled   int
		wantTotal   int
		wantBatches int
		wantErr     string
	}{
		{"a few spans, one export at the flush", 5, 0, 5, 1, ""},
		{"unsampled spans are not exported", 3, 4, 3, 1, ""},
		{"none, no export", 0, 2, 0, 0, ""},
		{"a full batch goes early", exportAt + 10, 0, exportAt + 10, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp := &countingExporter{}
			p := newInvocationProcessor(exp)
			endSpans(p, tt.sampled, true)
			endSpans(p, tt.unsampled, false)
			if err := p.ForceFlush(context.Background()); err != nil {
				t.Fatal(err)
			}
			n, batches := exp.total()
			if n != tt.wantTotal || len(batches) != tt.wantBatches {
				t.Errorf("exported %d spans in %v, want %d in %d exports", n, batches, tt.wantTotal, tt.wantBatches)
			}
		})
	}
}

// TestInvocationProcessorDropsPastItsBound: with the exporter stuck, spans
// past maxQueued waiting are dropped, and the flush says how many.
func TestInvocationProcessorDropsPastItsBound(t *testing.T) {
	exp := &countingExporter{block: make(chan struct{})}
	p := newInvocationProcessor(exp)
	// Early exports start and block; what follows piles up.
	endSpans(p, exportAt, true)
	p.mu.Lock()
	p.spans = make([]sdktrace.ReadOnlySpan, maxQueued)
	p.mu.Unlock()
	endSpans(p, 7, true)
	close(exp.block)
	err := p.ForceFlush(context.Background())
	if err == nil || !strings.Contains(err.Error(), "dropped 7 spans") {
		t.Fatalf("ForceFlush() = %v, want it to report 7 dropped spans", err)
	}
	if n, _ := exp.total(); n != exportAt+maxQueued {
		t.Errorf("exported %d spans, want %d", n, exportAt+maxQueued)
	}
}

// TestInvocationProcessorFlushWaitsForEarlyExports: the flush returns only
// once the background exports are done, or its context ends.
func TestInvocationProcessorFlushWaitsForEarlyExports(t *testing.T) {
	exp := &countingExporter{block: make(chan struct{})}
	p := newInvocationProcessor(exp)
	endSpans(p, exportAt, true)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.ForceFlush(ctx); err == nil || !strings.Contains(err.Error(), "background exports still under way") {
		t.Errorf("ForceFlush(canceled) = %v, want it to say exports are under way", err)
	}
	close(exp.block)
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, _ := exp.total(); n != exportAt {
		t.Errorf("exported %d spans, want %d", n, exportAt)
	}
}
