// Package localaws stands in, on a laptop, for the AWS services of the
// pattern that no emulator provides: the Lambda service invoking each
// function from SNS and SQS, and the trace headers that AWS hands from one
// service to the next with active tracing. The SNS and SQS emulator (goaws)
// and the DynamoDB emulator (dynalite) do the rest; the functions are their
// real bootstraps run by internal/sandbox.
//
// The AWS services' own part of a trace (the SNS topic, the Lambda service)
// is recorded as spans of their own, so that a trace in Jaeger has the nodes
// X-Ray's service map shows.
package localaws

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/internal/local/sandbox"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

// Tracers gives the tracer of an AWS service's spans, by the name its node
// has on X-Ray's service map (a topic's name, a function's name).
type Tracers func(service string) trace.Tracer

// Lambda invokes functions as the Lambda service does with active tracing:
// one span for the invocation, in the caller's trace or a new one, whose id
// goes to the function as the Parent of its trace header
// (https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html: Lambda
// records the function's segment and passes the trace header to the
// runtime, which hands it to the handler's context).
//
// Each function has as many sandboxes as Start was given: that many
// invocations of one function run at once, and the next waits for a free
// one, as with reserved concurrency.
type Lambda struct {
	tracers Tracers
	pools   map[string]chan *sandbox.Lambda
	all     []*sandbox.Lambda
	// Observe, if set, is called after each invocation.
	Observe func(Invocation)
}

// Invocation is what one invocation did.
type Invocation struct {
	Function  string
	Trigger   string // faas.trigger: "pubsub" (SNS) or "datasource" (SQS)
	TraceID   trace.TraceID
	RequestID string
	ColdStart bool
	Duration  time.Duration
	Payload   []byte               // the response, or the error document
	Err       *sandbox.InvokeError // the function failed
	Failure   error                // the invocation could not run
	Links     []trace.TraceID      // the traces an SQS batch's messages came from
}

// Failed reports whether the invocation did not succeed.
func (inv Invocation) Failed() bool { return inv.Err != nil || inv.Failure != nil }

// StartLambda starts concurrency sandboxes of each function and returns
// once all have finished their Init phase.
func StartLambda(ctx context.Context, fns []sandbox.Function, concurrency int, tracers Tracers) (*Lambda, error) {
	l := &Lambda{tracers: tracers, pools: map[string]chan *sandbox.Lambda{}}
	for _, fn := range fns {
		pool := make(chan *sandbox.Lambda, concurrency)
		for range concurrency {
			sb, err := sandbox.Start(ctx, fn)
			if err != nil {
				l.Close()
				return nil, fmt.Errorf("start %s: %w", fn.Name, err)
			}
			l.all = append(l.all, sb)
			pool <- sb
		}
		l.pools[fn.Name] = pool
	}
	return l, nil
}

// Close stops every sandbox, all at once: each may take its whole grace
// period to end after SIGTERM.
func (l *Lambda) Close() {
	var wg sync.WaitGroup
	for _, sb := range l.all {
		wg.Go(func() { _ = sb.Close() })
	}
	wg.Wait()
}

// PIDs are the process IDs of the functions' running sandboxes.
func (l *Lambda) PIDs() []int {
	var pids []int
	for _, sb := range l.all {
		if pid := sb.PID(); pid != 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Invoke invokes fn with payload as the event, in the trace of parent (a
// new trace when parent is not valid), and links the invocation to links:
// the traces of an SQS batch's senders.
func (l *Lambda) Invoke(ctx context.Context, fn, trigger string, payload []byte, parent trace.SpanContext, links []trace.Link) Invocation {
	inv := Invocation{Function: fn, Trigger: trigger}
	for _, l := range links {
		inv.Links = append(inv.Links, l.SpanContext.TraceID())
	}
	pool, ok := l.pools[fn]
	if !ok {
		inv.Failure = fmt.Errorf("no function %q", fn)
		return inv
	}
	opts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithLinks(links...),
		trace.WithAttributes(
			semconv.CloudProviderAWS,
			semconv.FaaSInvokedName(fn),
			semconv.FaaSInvokedProviderAWS,
			semconv.FaaSTriggerKey.String(trigger),
		),
	}
	if parent.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, parent)
	} else {
		opts = append(opts, trace.WithNewRoot())
	}
	ctx, span := l.tracers(fn).Start(ctx, fn, opts...)
	defer span.End()
	inv.TraceID = span.SpanContext().TraceID()

	var sb *sandbox.Lambda
	select {
	case sb = <-pool:
	case <-ctx.Done():
		inv.Failure = ctx.Err()
		return inv
	}
	defer func() { pool <- sb }()

	res, err := sb.Invoke(ctx, payload, traceHeader(ctx))
	inv.RequestID, inv.ColdStart, inv.Duration = res.RequestID, res.ColdStart, res.Duration
	inv.Payload, inv.Err, inv.Failure = res.Payload, res.Err, err
	span.SetAttributes(semconv.FaaSInvocationID(res.RequestID), semconv.FaaSColdstart(res.ColdStart))
	switch {
	case err != nil:
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	case res.Err != nil:
		// Lambda marks its function segment with a fault for a function error.
		span.SetStatus(codes.Error, res.Err.Error())
	}
	if l.Observe != nil {
		l.Observe(inv)
	}
	return inv
}

// traceHeader is the X-Ray trace header of the span in ctx, as Lambda
// passes it in Lambda-Runtime-Trace-Id: Root, Parent, Sampled, and the other
// fields (Lineage) of the header that reached the Lambda service.
func traceHeader(ctx context.Context) string {
	carrier := propagation.MapCarrier{}
	otelsetup.XRayPropagator{}.Inject(ctx, carrier)
	return carrier.Get("X-Amzn-Trace-Id")
}
