// Command traced is a Lambda function traced with otelsetup, for the Runtime
// API stand-in's test of concurrent invocations (Lambda Managed Instances).
// Its event {"round":R,"n":N} makes each invocation record a child span
// "work" and wait there until the N invocations of round R are in the handler
// at once, so that they really overlap in the process; it answers with its
// request ID. With "after":M, it also starts a span "after the answer" that
// a goroutine ends M ms after the invocation has answered, and then says so
// on stderr: only the flush at SIGTERM sends that span (the Shutdown test).
// It uses only otelsetup.Setup and otelsetup.Start (lambda.Start around
// otelsetup.Wrap with TRACED_LAMBDA_START set), and OpenTelemetry's global
// tracer, which Setup installs.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

type event struct {
	Round int `json:"round"`
	N     int `json:"n"`
	After int `json:"after"`
}

// function holds what its invocations share; all of it is guarded.
type function struct {
	tracer trace.Tracer

	mu     sync.Mutex
	rounds map[int]*gate
}

// gate opens once n invocations have arrived at it.
type gate struct {
	arrived int
	open    chan struct{}
}

func (f *function) handle(ctx context.Context, ev event) (string, error) {
	ctx, span := f.tracer.Start(ctx, "work")
	defer span.End()
	if ev.After > 0 {
		_, late := f.tracer.Start(ctx, "after the answer")
		go func() {
			time.Sleep(time.Duration(ev.After) * time.Millisecond)
			late.End()
			log.Print("ended the span after the answer")
		}()
	}
	f.mu.Lock()
	g := f.rounds[ev.Round]
	if g == nil {
		g = &gate{open: make(chan struct{})}
		f.rounds[ev.Round] = g
	}
	g.arrived++
	if g.arrived == ev.N {
		close(g.open)
	}
	f.mu.Unlock()
	select {
	case <-g.open:
	case <-ctx.Done():
		return "", fmt.Errorf("only some of the %d invocations of round %d arrived before the deadline", ev.N, ev.Round)
	}
	lc, _ := lambdacontext.FromContext(ctx)
	return lc.AwsRequestID, nil
}

func main() {
	tracing, err := otelsetup.Setup(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	f := &function{tracer: otel.Tracer("traced"), rounds: map[int]*gate{}}
	if os.Getenv("TRACED_LAMBDA_START") != "" {
		// The other way in: aws-lambda-go's own Start around Wrap.
		lambda.Start(otelsetup.Wrap(tracing, f.handle))
	}
	otelsetup.Start(tracing, f.handle)
}
