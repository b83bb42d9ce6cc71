package otelsetup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// invocationProcessor is the span processor of a Lambda function: it keeps
// ended spans until the invocation's flush and exports them then. A
// function exports once per invocation (Lambda may freeze it right after),
// so the batch span processor's worker goroutine, queue and timer would only
// add a hand-off to every flush.
//
// Several invocations may share it (AWS_LAMBDA_MAX_CONCURRENCY > 1) and end
// spans and flush at once. No lock is held across an export, so their
// flushes export in parallel, up to maxExports at a time: the exporter must
// be safe for concurrent use, unlike what the SDK's SpanExporter promises
// ("called synchronously"). otelsetup's own exporters and
// tracetest.InMemoryExporter are.
//
// Memory and goroutines stay bounded whatever the collector does:
//   - at most maxHeld spans are held, waiting or inside exports under way
//     (an export that outlived its flush counts until it returns); past
//     that, spans are dropped and counted, and the next flush reports it;
//   - once exportAt spans wait, they go out in the background while the
//     invocation goes on, as the batch processor sends a full batch, but
//     only maxEarly such exports run at a time: past that, spans wait for
//     one to end, or for the flush;
//   - each export runs in a goroutine of its own, at most maxExports at a
//     time; a flush that finds them all busy waits for one to end (bounded
//     by its context) rather than starting more.
type invocationProcessor struct {
	exp sdktrace.SpanExporter
	// inline: exp returns once its context ends (contextBound), so a flush
	// may export in its own goroutine.
	inline bool
	// slots holds a token for each export under way: a semaphore, so that
	// a flush can wait for a free one together with its context.
	slots chan struct{}

	mu      sync.Mutex
	queue   []sdktrace.ReadOnlySpan
	held    int       // len(queue) plus the spans of exports under way
	dropped int       // since the last flush
	exports []*export // under way, oldest first
	early   int       // how many of exports are background ones
	errs    []error   // of exports nobody waits for any more, for the next flush
	errsCut int       // how many more there were than maxErrs
	stopped bool

	stopOnce sync.Once
}

// export is one call of ExportSpans under way.
type export struct {
	spans int
	early bool
	// traces are the trace IDs of its spans, each once: a flush need not
	// wait for another flush's export that holds none of its own.
	traces []trace.TraceID
	done   chan struct{} // closed when ExportSpans has returned

	// Guarded by the processor's mu.
	returned  bool
	err       error
	abandoned bool // the flush that started it returned first: err goes to errs
}

const (
	// exportAt is the batch processor's default batch size.
	exportAt = 512
	// maxHeld is the batch processor's default queue size: a few MB of
	// spans at most, which fits the smallest Lambda function.
	maxHeld = 4096
	// maxEarly background exports at a time keep a span-heavy invocation
	// sending while it runs, without one goroutine per batch piling up
	// behind a slow collector.
	maxEarly = 2
	// maxExports leaves room, beside the background exports, for several
	// invocations' flushes to export in parallel.
	maxExports = maxEarly + 6
	// maxErrs bounds the export errors kept for the next flush: a dead
	// collector makes every background export fail alike.
	maxErrs = 8
)

// contextBound is implemented by the exporters that return as soon as the
// context of their export ends, otelsetup's own: a flush can then export in
// its own goroutine and still keep its bound. Any other exporter runs in a
// goroutine of its own that the flush leaves behind at the bound, which costs
// every flush a hand-off there and back, and the new goroutine's stack grown
// again through the encoder and net/http (5% of an invocation's CPU in
// BenchmarkInvocation's profile).
type contextBound interface {
	returnsWhenContextEnds()
}

func newInvocationProcessor(exp sdktrace.SpanExporter) *invocationProcessor {
	_, inline := exp.(contextBound)
	return &invocationProcessor{exp: exp, inline: inline, slots: make(chan struct{}, maxExports)}
}

var _ sdktrace.SpanProcessor = (*invocationProcessor)(nil)

func (p *invocationProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

func (p *invocationProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		// Nothing flushes any more, so a count could never be reported.
		return
	}
	if p.held >= maxHeld {
		p.dropped++
		return
	}
	p.queue = append(p.queue, s)
	p.held++
	p.startEarlyLocked()
}

// startEarlyLocked sends what waits in the background once a full batch
// waits, if a background export may start.
func (p *invocationProcessor) startEarlyLocked() {
	if len(p.queue) < exportAt || p.early >= maxEarly || p.stopped {
		return
	}
	select {
	case p.slots <- struct{}{}:
	default:
		return // flushes have the slots; the next one takes these spans
	}
	e, batch := p.startLocked(true)
	// No invocation's context fits a batch of several invocations' spans:
	// the exporter's own timeout bounds it, and while it runs it holds its
	// slot and its spans, so a stuck one costs a bounded amount.
	go p.run(context.Background(), e, batch)
}

// startLocked registers an export of all that waits; its slot is taken.
func (p *invocationProcessor) startLocked(early bool) (*export, []sdktrace.ReadOnlySpan) {
	batch := p.queue
	// The next invocation likely ends as many spans: room for them at once,
	// rather than a queue grown from nothing in several steps every time.
	p.queue = make([]sdktrace.ReadOnlySpan, 0, min(len(batch), exportAt))
	e := &export{spans: len(batch), early: early, abandoned: early, done: make(chan struct{})}
	if !early { // every flush waits for a background export anyway
		for _, s := range batch {
			// A function's spans come from a few traces at once: a linear
			// search is cheaper than a map.
			if id := s.SpanContext().TraceID(); !slices.Contains(e.traces, id) {
				e.traces = append(e.traces, id)
			}
		}
	}
	p.exports = append(p.exports, e)
	if early {
		p.early++
	}
	return e, batch
}

// run exports batch and then lets go of what e holds.
func (p *invocationProcessor) run(ctx context.Context, e *export, batch []sdktrace.ReadOnlySpan) {
	err := p.exp.ExportSpans(ctx, batch)
	p.mu.Lock()
	e.returned, e.err = true, err
	if err != nil && e.abandoned {
		if len(p.errs) < maxErrs {
			p.errs = append(p.errs, err)
		} else {
			p.errsCut++
		}
	}
	p.held -= e.spans
	if e.early {
		p.early--
	}
	for i, x := range p.exports {
		if x == e {
			p.exports = append(p.exports[:i], p.exports[i+1:]...)
			break
		}
	}
	<-p.slots
	// Spans may have piled up while every background export was busy.
	p.startEarlyLocked()
	p.mu.Unlock()
	close(e.done)
}

// ForceFlush exports what waits, and waits for the exports under way, until
// ctx ends. Its error tells what was dropped or failed since the last flush.
func (p *invocationProcessor) ForceFlush(ctx context.Context) error {
	p.mu.Lock()
	stopped := p.stopped
	p.mu.Unlock()
	if stopped {
		return errors.New("otelsetup: span processor is shut down: nothing to flush")
	}
	return p.flush(ctx)
}

func (p *invocationProcessor) flush(ctx context.Context) error {
	var errs []error
	p.mu.Lock()
	if p.dropped > 0 {
		errs = append(errs, fmt.Errorf("otelsetup: dropped %d spans: %d were held already, waiting or being exported", p.dropped, maxHeld))
		p.dropped = 0
	}
	waiting := len(p.queue) > 0
	p.mu.Unlock()

	slot := false
	if waiting {
		select {
		case p.slots <- struct{}{}:
			slot = true
		default:
			// Every export is busy (a stuck collector, or many invocations
			// at once): wait for one to end rather than start more.
			select {
			case p.slots <- struct{}{}:
				slot = true
			case <-ctx.Done():
				return p.report(errs, fmt.Errorf("otelsetup: spans left waiting, %d exports under way already: %w", maxExports, ctx.Err()))
			}
		}
	}

	// Each span ended before now is waiting, and taken here, or inside an
	// export under way: the flush waits for the exports that may hold the
	// spans of its invocation's trace. Those of other invocations' flushes
	// that hold none (their traces are known) have a flush of their own
	// waiting for them, and concurrent invocations
	// (AWS_LAMBDA_MAX_CONCURRENCY > 1) would otherwise wait for each
	// other's collector round trips. Without a trace in ctx (Shutdown, a
	// flush outside an invocation), and for background exports and those
	// whose flush gave up on them, it waits for all.
	mine := trace.SpanContextFromContext(ctx).TraceID()
	p.mu.Lock()
	var own *export
	var batch []sdktrace.ReadOnlySpan
	if slot {
		if len(p.queue) > 0 {
			own, batch = p.startLocked(false)
		} else {
			<-p.slots // another flush took them meanwhile
		}
	}
	others := make([]*export, 0, len(p.exports))
	for _, e := range p.exports {
		if e == own || mine.IsValid() && !e.abandoned && !slices.Contains(e.traces, mine) {
			continue
		}
		others = append(others, e)
	}
	p.mu.Unlock()

	if own != nil {
		if ctx.Done() == nil || p.inline {
			// Nothing to select on (the caller waits as long as it takes),
			// or an exporter that returns when ctx ends.
			p.run(ctx, own, batch)
		} else {
			// The export may ignore ctx; the flush must not.
			go p.run(ctx, own, batch)
		}
		select {
		case <-own.done:
		case <-ctx.Done():
		}
		p.mu.Lock()
		if own.returned {
			if own.err != nil {
				errs = append(errs, own.err)
			}
		} else {
			own.abandoned = true
			errs = append(errs, fmt.Errorf("otelsetup: export of %d spans still under way: %w", own.spans, ctx.Err()))
		}
		p.mu.Unlock()
	}
	for i, e := range others {
		select {
		case <-e.done:
			// Its error is for the flush that started it, or the next.
		case <-ctx.Done():
			return p.report(errs, fmt.Errorf("otelsetup: exports still under way (%d): %w", len(others)-i, ctx.Err()))
		}
	}
	return p.report(errs)
}

// report joins errs with those of the exports nobody waited for.
func (p *invocationProcessor) report(errs []error, more ...error) error {
	p.mu.Lock()
	errs = append(append(errs, more...), p.errs...)
	if p.errsCut > 0 {
		errs = append(errs, fmt.Errorf("otelsetup: %d more exports failed", p.errsCut))
	}
	p.errs, p.errsCut = nil, 0
	p.mu.Unlock()
	return errors.Join(errs...)
}

// Shutdown flushes and shuts the exporter down, once: later calls say so.
func (p *invocationProcessor) Shutdown(ctx context.Context) error {
	err := errors.New("otelsetup: span processor already shut down")
	p.stopOnce.Do(func() {
		p.mu.Lock()
		p.stopped = true
		p.mu.Unlock()
		err = errors.Join(p.flush(ctx), p.exp.Shutdown(ctx))
	})
	return err
}
