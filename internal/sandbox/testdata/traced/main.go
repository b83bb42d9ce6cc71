// Command traced is a Lambda function traced with otelsetup, for the Runtime
// API stand-in's test of concurrent invocations (Lambda Managed Instances).
// Its event {"n":N} makes each invocation record a child span "work" and wait
// there until N invocations are in the handler at once, so that they really
// overlap in the process; it answers with its request ID. It uses only
// otelsetup.Setup and otelsetup.Start, and OpenTelemetry's global tracer,
// which Setup installs.
package main

import (
	"context"
	"fmt"
	"log"
	"sync"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

type event struct {
	N int `json:"n"`
}

// function holds what its invocations share; all of it is guarded.
type function struct {
	tracer trace.Tracer

	mu      sync.Mutex
	arrived int
	all     chan struct{} // closed once the first event's N invocations have arrived
}

func (f *function) handle(ctx context.Context, ev event) (string, error) {
	ctx, span := f.tracer.Start(ctx, "work")
	defer span.End()
	f.mu.Lock()
	f.arrived++
	if f.arrived == ev.N {
		close(f.all)
	}
	f.mu.Unlock()
	select {
	case <-f.all:
	case <-ctx.Done():
		return "", fmt.Errorf("only some of %d invocations arrived before the deadline", ev.N)
	}
	lc, _ := lambdacontext.FromContext(ctx)
	return lc.AwsRequestID, nil
}

func main() {
	tracing, err := otelsetup.Setup(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	f := &function{tracer: otel.Tracer("traced"), all: make(chan struct{})}
	otelsetup.Start(tracing, f.handle)
}
