package otelsetup

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// invocationProcessor is the span processor of a Lambda function: it keeps
// ended spans until the invocation's flush and exports them then, in the
// flushing goroutine. A function exports once per invocation (Lambda may
// freeze it right after), so the batch span processor's worker goroutine,
// queue and timer would only add a hand-off to every flush.
//
// Memory stays bounded: once exportAt spans wait, they go out in the
// background while the invocation goes on, as the batch processor would
// send a full batch, and the flush waits for them; past maxQueued waiting
// spans, new ones are dropped and counted, and the next flush reports it.
type invocationProcessor struct {
	exp sdktrace.SpanExporter

	mu      sync.Mutex
	spans   []sdktrace.ReadOnlySpan
	dropped int
	early   sync.WaitGroup // background exports under way
	pending atomic.Int32   // how many: a flush waits only when there are some
	errs    []error        // theirs, for the next flush
}

const (
	exportAt  = 512
	maxQueued = 4096
)

func newInvocationProcessor(exp sdktrace.SpanExporter) *invocationProcessor {
	return &invocationProcessor{exp: exp}
}

func (p *invocationProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

func (p *invocationProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.spans) >= maxQueued {
		p.dropped++
		return
	}
	p.spans = append(p.spans, s)
	if len(p.spans) >= exportAt {
		batch := p.spans
		p.spans = nil
		p.pending.Add(1)
		p.early.Go(func() {
			defer p.pending.Add(-1)
			// Bounded by the exporter's own timeout; the flush that waits
			// for it is bounded by its deadline.
			if err := p.exp.ExportSpans(context.Background(), batch); err != nil {
				p.mu.Lock()
				p.errs = append(p.errs, err)
				p.mu.Unlock()
			}
		})
	}
}

// ForceFlush exports what waits, and waits for the background exports,
// until ctx ends.
func (p *invocationProcessor) ForceFlush(ctx context.Context) error {
	p.mu.Lock()
	batch, dropped := p.spans, p.dropped
	p.spans, p.dropped = nil, 0
	p.mu.Unlock()

	var errs []error
	if dropped > 0 {
		errs = append(errs, fmt.Errorf("otelsetup: dropped %d spans: more than %d waited for the flush", dropped, maxQueued))
	}
	if len(batch) > 0 {
		if err := p.exp.ExportSpans(ctx, batch); err != nil {
			errs = append(errs, err)
		}
	}
	if p.pending.Load() > 0 {
		done := make(chan struct{})
		go func() {
			p.early.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("otelsetup: background exports still under way: %w", ctx.Err()))
		}
	}
	p.mu.Lock()
	errs = append(errs, p.errs...)
	p.errs = nil
	p.mu.Unlock()
	return errors.Join(errs...)
}

func (p *invocationProcessor) Shutdown(ctx context.Context) error {
	return errors.Join(p.ForceFlush(ctx), p.exp.Shutdown(ctx))
}
