package otelsetup

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// countingExporter keeps the size of each export and how many exports ran
// at once at most. Its exports wait for block, if set, and ignore their
// context, as a careless exporter would.
type countingExporter struct {
	block chan struct{}
	yield int   // if set, exports yield the processor this many times, to take a while
	fail  error // what each export returns

	mu        sync.Mutex
	batches   []int
	running   int
	most      int // the highest running seen
	shutdowns int
}

func (e *countingExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.mu.Lock()
	e.running++
	e.most = max(e.most, e.running)
	e.mu.Unlock()
	if e.block != nil {
		<-e.block
	}
	for range e.yield {
		runtime.Gosched()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.running--
	e.batches = append(e.batches, len(spans))
	return e.fail
}

func (e *countingExporter) Shutdown(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.shutdowns++
	return nil
}

func (e *countingExporter) total() (n int, batches []int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, b := range e.batches {
		n += b
	}
	return n, append([]int(nil), e.batches...)
}

func (e *countingExporter) mostAtOnce() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.most
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
	}{
		{"a few spans, one export at the flush", 5, 0, 5, 1},
		{"unsampled spans are not exported", 3, 4, 3, 1},
		{"none, no export", 0, 2, 0, 0},
		{"a full batch goes early", exportAt + 10, 0, exportAt + 10, 2},
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

// TestInvocationProcessorOnEndRacesFlush runs invocations as Lambda runs
// them with AWS_LAMBDA_MAX_CONCURRENCY > 1: several goroutines end spans
// (enough to start background exports) and flush at once. Under -race it
// proves nothing is shared unguarded; and every span is exported once.
func TestInvocationProcessorOnEndRacesFlush(t *testing.T) {
	const invocations, rounds, spansPerRound = 8, 1000, exportAt/3 + 1
	exp := &countingExporter{yield: 100}
	p := newInvocationProcessor(exp)
	var wg sync.WaitGroup
	for range invocations {
		wg.Go(func() {
			for range rounds {
				endSpans(p, spansPerRound, true)
				if err := p.ForceFlush(context.Background()); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, _ := exp.total(); n != invocations*rounds*spansPerRound {
		t.Errorf("exported %d spans, want %d", n, invocations*rounds*spansPerRound)
	}
}

// TestInvocationProcessorDropsPastItsBound: with the exporter stuck, the
// spans held (waiting or inside exports under way) never pass maxHeld; the
// rest are dropped, and the next flush says how many.
func TestInvocationProcessorDropsPastItsBound(t *testing.T) {
	exp := &countingExporter{block: make(chan struct{})}
	p := newInvocationProcessor(exp)
	endSpans(p, maxHeld+7, true)
	close(exp.block)
	err := p.ForceFlush(context.Background())
	if err == nil || !strings.Contains(err.Error(), "dropped 7 spans") {
		t.Fatalf("ForceFlush() = %v, want it to report 7 dropped spans", err)
	}
	if n, _ := exp.total(); n != maxHeld {
		t.Errorf("exported %d spans, want the %d held", n, maxHeld)
	}
	// The count starts again after each flush.
	endSpans(p, 3, true)
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Errorf("ForceFlush() after the drops were reported = %v, want nil", err)
	}
}

// TestInvocationProcessorBoundsErrorsKept: the errors of background exports
// wait for the next flush, but no more than maxErrs of them; the rest are
// counted.
func TestInvocationProcessorBoundsErrorsKept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		exp := &countingExporter{fail: errors.New("collector down")}
		p := newInvocationProcessor(exp)
		for range maxErrs + 3 {
			endSpans(p, exportAt, true)
			synctest.Wait()
		}
		err := p.ForceFlush(context.Background())
		if err == nil || strings.Count(err.Error(), "collector down") != maxErrs || !strings.Contains(err.Error(), "3 more exports failed") {
			t.Errorf("ForceFlush() = %v, want %d export errors and 3 more counted", err, maxErrs)
		}
		if err := p.ForceFlush(context.Background()); err != nil {
			t.Errorf("ForceFlush() once reported = %v, want nil", err)
		}
	})
}

// TestInvocationProcessorBoundsExportsUnderWay: with an exporter that never
// returns, however many spans end and however many flushes give up, no more
// than maxEarly background exports and maxExports exports in all run at
// once; every export runs in a goroutine of its own, so this bounds the
// goroutines too.
func TestInvocationProcessorBoundsExportsUnderWay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		exp := &countingExporter{block: make(chan struct{})}
		defer close(exp.block)
		p := newInvocationProcessor(exp)

		endSpans(p, 20*exportAt, true)
		synctest.Wait()
		if got := exp.mostAtOnce(); got > maxEarly {
			t.Errorf("%d background exports at once, want at most %d", got, maxEarly)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		exp := &countingExporter{block: make(chan struct{})}
		defer close(exp.block)
		p := newInvocationProcessor(exp)

		// Each flush gives up after a second, leaving its export behind.
		for range 3 * maxExports {
			endSpans(p, 1, true)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err := p.ForceFlush(ctx)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("ForceFlush() = %v, want the deadline", err)
			}
		}
		synctest.Wait()
		if got := exp.mostAtOnce(); got > maxExports {
			t.Errorf("%d exports at once, want at most %d", got, maxExports)
		}
	})
}

// TestInvocationProcessorFlushIgnoredContext: an exporter that ignores its
// context cannot hold the flush past ctx; its export still counts as under
// way, and what it returns goes to the next flush.
func TestInvocationProcessorFlushIgnoredContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		exp := &countingExporter{block: make(chan struct{})}
		p := newInvocationProcessor(exp)
		endSpans(p, 3, true)

		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
		defer cancel()
		err := p.ForceFlush(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("ForceFlush() = %v, want the deadline", err)
		}
		if elapsed := time.Since(start); elapsed != 250*time.Millisecond {
			t.Errorf("ForceFlush returned after %v on the fake clock, want 250ms", elapsed)
		}

		// Still under way: a later flush waits for it too.
		ctx, cancel = context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := p.ForceFlush(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("second ForceFlush() = %v, want it to wait for the export still under way", err)
		}

		close(exp.block)
		synctest.Wait()
		if err := p.ForceFlush(context.Background()); err != nil {
			t.Errorf("ForceFlush() once the export returned = %v", err)
		}
		if n, _ := exp.total(); n != 3 {
			t.Errorf("exported %d spans, want 3", n)
		}
	})
}

// TestInvocationProcessorFlushesExportInParallel: two invocations' flushes
// are both inside the exporter at once; neither waits for a lock the other
// holds across its export.
func TestInvocationProcessorFlushesExportInParallel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		exp := &countingExporter{block: make(chan struct{})}
		p := newInvocationProcessor(exp)
		var wg sync.WaitGroup
		for range 2 {
			endSpans(p, 1, true)
			wg.Go(func() { _ = p.ForceFlush(context.Background()) })
			synctest.Wait()
		}
		if got := exp.mostAtOnce(); got != 2 {
			t.Errorf("%d flushes exporting at once, want 2", got)
		}
		close(exp.block)
		wg.Wait()
	})
}

// TestInvocationProcessorFlushWaitsForEarlyExports: the flush returns only
// once the background exports are done, or its context ends.
func TestInvocationProcessorFlushWaitsForEarlyExports(t *testing.T) {
	exp := &countingExporter{block: make(chan struct{})}
	p := newInvocationProcessor(exp)
	endSpans(p, exportAt, true)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.ForceFlush(ctx); err == nil || !strings.Contains(err.Error(), "still under way") {
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

// TestInvocationProcessorAfterShutdown: Shutdown runs once; what comes after
// it is refused, and says so where it can.
func TestInvocationProcessorAfterShutdown(t *testing.T) {
	tests := []struct {
		name    string
		after   func(p *invocationProcessor) error
		wantErr string
	}{
		{"Shutdown again", func(p *invocationProcessor) error { return p.Shutdown(context.Background()) }, "already shut down"},
		{"ForceFlush", func(p *invocationProcessor) error { return p.ForceFlush(context.Background()) }, "shut down"},
		{"OnEnd, then ForceFlush", func(p *invocationProcessor) error {
			endSpans(p, 2, true)
			return p.ForceFlush(context.Background())
		}, "shut down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp := &countingExporter{}
			p := newInvocationProcessor(exp)
			endSpans(p, 1, true)
			if err := p.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			err := tt.after(p)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("after Shutdown: %v, want an error saying %q", err, tt.wantErr)
			}
			if n, batches := exp.total(); n != 1 || exp.shutdowns != 1 {
				t.Errorf("exported %d spans in %v and shut the exporter down %d times, want the 1 span before Shutdown, and once", n, batches, exp.shutdowns)
			}
		})
	}
}

// boundExporter is a countingExporter that says it returns when its
// context ends, and records whether it was called from within the flush.
type boundExporter struct {
	countingExporter
	inFlush bool
}

func (*boundExporter) returnsWhenContextEnds() {}

func (e *boundExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(1, pcs)])
	for {
		f, more := frames.Next()
		e.inFlush = e.inFlush || strings.HasSuffix(f.Function, "(*invocationProcessor).flush")
		if !more {
			break
		}
	}
	return e.countingExporter.ExportSpans(ctx, spans)
}

// TestInvocationProcessorExportsInTheFlushWhenBound: an exporter that
// returns when its context ends (otelsetup's own) runs on the flushing
// goroutine, with no hand-off to another; any other still runs apart, so
// that a flush can leave it behind at its bound (FlushIgnoredContext).
func TestInvocationProcessorExportsInTheFlushWhenBound(t *testing.T) {
	exp := &boundExporter{countingExporter: countingExporter{fail: errors.New("refused")}}
	p := newInvocationProcessor(exp)
	endSpans(p, 2, true)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.ForceFlush(ctx); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("ForceFlush() = %v, want the export's error", err)
	}
	if !exp.inFlush {
		t.Error("the export ran apart from the flush")
	}
	if n, _ := exp.total(); n != 2 {
		t.Errorf("exported %d spans, want 2", n)
	}
	if newInvocationProcessor(&countingExporter{}).inline {
		t.Error("an exporter that does not say it returns when its context ends runs in the flush")
	}
}
