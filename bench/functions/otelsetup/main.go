// Command otelsetup is the benchmark's variant traced by this project's
// internal/otelsetup, as the pattern's functions are: Setup, Start (which
// wraps the handler), Capture and PutAnnotation per step, and the AWS SDK
// client from Tracing.AWSConfig. The exporter is chosen by the environment
// (OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_PROTOCOL).
package main

import (
	"context"
	"log"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/xray-tracer/xray-tracer/bench/internal/work"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

func main() {
	ctx := context.Background()
	tracing, err := otelsetup.Setup(ctx)
	if err != nil {
		log.Fatalf("otelsetup: %v", err)
	}
	cfg, err := tracing.AWSConfig(ctx)
	if err != nil {
		log.Fatalf("otelsetup: %v", err)
	}
	db := dynamodb.NewFromConfig(cfg)
	otelsetup.Start(tracing, func(ctx context.Context, ev work.Event) (work.Result, error) {
		return work.Handle(ctx, ev, db, step)
	})
}

func step(ctx context.Context, name string, fn func(context.Context) error) error {
	return otelsetup.Capture(ctx, name, func(ctx context.Context) error {
		_ = otelsetup.PutAnnotation(ctx, "step", name)
		return fn(ctx)
	})
}
