package otelsetup

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// DeadlineMargin is the time every flush leaves free before the invocation's
// deadline. The invocation is over when Lambda has the answer, not when the
// handler returns: after the flush the function still sends the answer to the
// Runtime API; the deadline comes in whole milliseconds
// (Lambda-Runtime-Deadline-Ms); and a function with little memory gets a
// fraction of a vCPU, so it can be descheduled for tens of milliseconds
// between the flush and the answer. An answer late by any of these is a
// timeout, and Lambda retries an asynchronous invocation (SNS), which repeats
// its side effects. The margin costs nothing while the collector is healthy
// (a flush to it takes milliseconds); it bounds only a slow or dead one.
//
// 100 ms is what Datadog's Lambda tracers give the same work: they end and
// flush the spans of a handler that is about to time out 100 ms before the
// deadline (DD_APM_FLUSH_DEADLINE_MILLISECONDS, default 100), so their flush
// and the answer fit in it. Here the margin comes after the flush, which has
// its own bound.
const DeadlineMargin = 100 * time.Millisecond

// timeoutFlushTimeout bounds the flush of a handler that is about to time
// out (at most the flush timeout): it runs this long before
// [DeadlineMargin], so the invocation span of a handler that ends in that
// window is marked timed out although Lambda does not time it out. A flush to
// a healthy collector takes a few milliseconds; 100 ms leaves room for a busy
// one and keeps the window small next to Lambda's shortest timeouts (1 s, 3 s
// by default).
const timeoutFlushTimeout = 100 * time.Millisecond

// TimeoutError is recorded on the invocation span of a handler that still
// runs shortly before its deadline (the deadline less [DeadlineMargin] and
// the time the flush needs), when the span is ended and exported so that
// X-Ray shows the timeout as a fault with every span ended so far, instead
// of nothing. The handler is not stopped: it runs until it returns or Lambda
// stops the function.
type TimeoutError struct {
	// Deadline is the invocation's deadline.
	Deadline time.Time
	// Left is the time that was left when the span was ended.
	Left time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("invocation timed out: the handler was still running %v before its deadline", e.Left.Round(time.Millisecond))
}

// invocation ends one invocation's span once: when the handler returns, or,
// if the invocation has a deadline, when its watchdog finds the handler still
// running shortly before it, whichever comes first.
type invocation struct {
	t     *Tracing
	span  trace.Span
	ended atomic.Bool
	// watchdog is nil without a deadline or a recording span; watched is
	// closed when the watchdog's function has run.
	watchdog *time.Timer
	watched  chan struct{}
}

// startInvocation arms the watchdog of span, the invocation span of ctx.
// The watchdog is a timer, not a goroutine per invocation: the handler runs
// in the invoking goroutine, and the timer's function runs only if it fires.
func (t *Tracing) startInvocation(ctx context.Context, span trace.Span) *invocation {
	inv := &invocation{t: t, span: span}
	deadline, ok := ctx.Deadline()
	if !ok || !span.IsRecording() {
		return inv
	}
	lead := DeadlineMargin + min(t.flushTimeout, timeoutFlushTimeout)
	inv.watched = make(chan struct{})
	inv.watchdog = time.AfterFunc(time.Until(deadline)-lead, func() {
		defer close(inv.watched)
		ended := inv.end(func() {
			err := &TimeoutError{Deadline: deadline, Left: time.Until(deadline)}
			// No stack: the timer's goroutine says nothing of the handler.
			recordException(span, fmt.Sprintf("%T", err), err.Error(), "")
		})
		if ended {
			t.Flush(ctx)
		}
	})
	return inv
}

// finish ends the span with record, unless the watchdog has ended it, and
// flushes: the spans that ended after the watchdog's flush go out if time
// allows.
func (inv *invocation) finish(ctx context.Context, record func()) {
	if inv.watchdog != nil && !inv.watchdog.Stop() {
		// The watchdog fired: its flush, bounded like this one, ends
		// before the answer goes.
		<-inv.watched
	}
	inv.end(record)
	inv.t.Flush(ctx)
}

// end records and ends the span, if nobody has; it reports whether it did.
func (inv *invocation) end(record func()) bool {
	if inv.ended.Swap(true) {
		return false
	}
	record()
	inv.span.End()
	return true
}
