package otelsetup_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest"
)

// TestOverrunLeavesTimedOutInvocation proves, on synctest's fake clock, what
// a handler that runs into its deadline leaves: shortly before the deadline
// the invocation span ends as timed out and is exported with every span
// ended so far; the handler goes on; whatever it does afterwards is not
// recorded twice, and its late spans still go out if time allows.
func TestOverrunLeavesTimedOutInvocation(t *testing.T) {
	const (
		timeout      = 3 * time.Second // the function's timeout
		flushTimeout = 50 * time.Millisecond
		// The watchdog leaves the timed-out flush its bound (the flush
		// timeout, as it is below 100 ms) and the margin.
		watchdog = timeout - otelsetup.DeadlineMargin - flushTimeout
	)
	tests := []struct {
		name     string
		finishAt time.Duration // when the slow step returns, from the start
		// What the exporter holds 1 ms before the deadline, when Lambda is
		// about to stop the function.
		wantAtDeadline []string
		wantTimedOut   bool
	}{
		{
			name:           "finishes just before the watchdog",
			finishAt:       watchdog - time.Millisecond,
			wantAtDeadline: []string{"finished step", "slow step", "test-function"},
		},
		{
			name:           "finishes after the watchdog, before the margin",
			finishAt:       watchdog + 10*time.Millisecond,
			wantAtDeadline: []string{"finished step", "slow step", "test-function"},
			wantTimedOut:   true,
		},
		{
			name:           "overruns the deadline",
			finishAt:       timeout + time.Second,
			wantAtDeadline: []string{"finished step", "test-function"},
			wantTimedOut:   true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("AWS_LAMBDA_FUNCTION_NAME", "test-function")
			synctest.Test(t, func(t *testing.T) {
				tr, exp := otelsetuptest.New(t, otelsetup.WithFlushTimeout(flushTimeout))
				start := time.Now()
				ctx, cancel := context.WithDeadline(otelsetuptest.InvocationContext("req-1", ctxHeader), start.Add(timeout))
				defer cancel()
				h := otelsetup.Wrap(tr, func(ctx context.Context, _ events.SNSEvent) (string, error) {
					_ = otelsetup.Capture(ctx, "finished step", func(context.Context) error { return nil })
					_ = otelsetup.Capture(ctx, "slow step", func(context.Context) error {
						// Not ctx: Lambda does not stop a handler at the
						// deadline, it stops the process.
						time.Sleep(tt.finishAt)
						return nil
					})
					return "done", nil
				})

				var atDeadline tracetest.SpanStubs
				go func() {
					time.Sleep(timeout - time.Millisecond)
					atDeadline = exp.GetSpans()
				}()
				_, _ = otelsetuptest.Invoke[string](t, ctx, h, readEvent(t, "sns-fanout.json"))
				time.Sleep(time.Until(start.Add(timeout))) // past the snapshot
				synctest.Wait()

				if got := spanNames(atDeadline); !slices.Equal(got, tt.wantAtDeadline) {
					t.Fatalf("exported 1 ms before the deadline: %q, want %q", got, tt.wantAtDeadline)
				}
				all := exp.GetSpans()
				invs := otelsetuptest.Named(all, "test-function")
				if len(invs) != 1 {
					t.Fatalf("%d invocation spans exported, want 1", len(invs))
				}
				inv := invs[0]
				if !tt.wantTimedOut {
					if inv.Status.Code == codes.Error {
						t.Errorf("invocation marked %q, want it not marked", inv.Status.Description)
					}
					return
				}
				if inv.Status.Code != codes.Error {
					t.Fatalf("invocation status = %v, want error", inv.Status.Code)
				}
				typ, msg, _ := exception(t, inv)
				if !strings.Contains(typ, "Timeout") || !strings.Contains(msg, "timed out") {
					t.Errorf("exception %s %q, want a timeout", typ, msg)
				}
				if got := inv.EndTime.Sub(start); got != watchdog {
					t.Errorf("invocation span ended after %v, want at the watchdog %v", got, watchdog)
				}
				if n := len(inv.Events); n != 1 {
					t.Errorf("invocation span has %d events, want one exception", n)
				}
			})
		})
	}
}

func spanNames(spans tracetest.SpanStubs) []string {
	names := make([]string, len(spans))
	for i, s := range spans {
		names[i] = s.Name
	}
	slices.Sort(names)
	return names
}
