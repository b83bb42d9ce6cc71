package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

// awsSpans holds one tracer provider per AWS service node (the API stage,
// each topic, each function's Lambda service), so that Jaeger shows each
// under its own name. Their spans go to Jaeger (straight, not through the
// collector: see awsSegments) and become the X-Ray view's AWS segments, or
// go nowhere when the functions print theirs on the console: the spans are
// still made, so that the trace headers handed on stay one trace.
type awsSpans struct {
	cfg settings
	ctx context.Context
	// segments, if set, also makes the spans the segments AWS records.
	segments sdktrace.SpanProcessor

	mu   sync.Mutex
	byID map[string]*otelsetup.Tracing
	stop chan struct{}
	done chan struct{}
}

func newAWSSpans(ctx context.Context, cfg settings, segments sdktrace.SpanProcessor) (*awsSpans, error) {
	a := &awsSpans{cfg: cfg, ctx: context.WithoutCancel(ctx), segments: segments, byID: map[string]*otelsetup.Tracing{}, stop: make(chan struct{}), done: make(chan struct{})}
	// The spans of a request end in a few processes at once; flush often
	// so a trace is whole in Jaeger soon after its last span.
	go func() {
		defer close(a.done)
		tick := time.NewTicker(300 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-a.stop:
				return
			case <-tick.C:
				a.flush()
			}
		}
	}()
	return a, nil
}

func (a *awsSpans) tracing(service string) (*otelsetup.Tracing, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t, ok := a.byID[service]; ok {
		return t, nil
	}
	// With Jaeger, the exporter the environment names (run points it at
	// Jaeger, as for the functions); otherwise spans are made but dropped.
	opts := []otelsetup.Option{otelsetup.WithServiceName(service)}
	if !a.cfg.jaeger {
		opts = append(opts, otelsetup.WithExporter(tracetest.NewNoopExporter()))
	}
	t, err := otelsetup.Setup(a.ctx, opts...)
	if err != nil {
		return nil, err
	}
	if sdk, ok := t.TracerProvider().(*sdktrace.TracerProvider); ok && a.segments != nil {
		sdk.RegisterSpanProcessor(a.segments)
	}
	a.byID[service] = t
	return t, nil
}

func (a *awsSpans) tracer(service string) trace.Tracer {
	t, err := a.tracing(service)
	if err != nil {
		// Setup reads the same settings for every service, and they were
		// read once already, for the API's, before anything was served.
		panic(fmt.Sprintf("tracing for %s: %v", service, err))
	}
	return t.TracerProvider().Tracer("github.com/xray-tracer/xray-tracer/cmd/local")
}

func (a *awsSpans) flush() {
	a.mu.Lock()
	all := make([]*otelsetup.Tracing, 0, len(a.byID))
	for _, t := range a.byID {
		all = append(all, t)
	}
	a.mu.Unlock()
	for _, t := range all {
		t.Flush(a.ctx)
	}
}

func (a *awsSpans) shutdown(ctx context.Context) {
	close(a.stop)
	<-a.done
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, t := range a.byID {
		_ = t.Shutdown(ctx)
	}
}
