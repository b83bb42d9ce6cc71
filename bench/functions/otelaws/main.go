// Command otelaws is the otelsetup variant with otelaws on the AWS SDK
// client instead of otelsetup's own middleware, with otelsetup's
// XRayAttributes as otelaws's attribute builder so that the spans say the
// same: set beside (b), it measures what the middleware alone costs (otelaws's
// attribute builders import the S3, SQS and SNS clients).
//
// The AWS config is loaded as the untraced control loads it: otelsetup's
// AWSConfig would add its own middleware, and the fail-fast settings it
// adds besides link no code that LoadDefaultConfig does not.
package main

import (
	"context"
	"log"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"go.opentelemetry.io/contrib/instrumentation/github.com/aws/aws-sdk-go-v2/otelaws"

	"github.com/xray-tracer/xray-tracer/bench/internal/work"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

func main() {
	ctx := context.Background()
	tracing, err := otelsetup.Setup(ctx)
	if err != nil {
		log.Fatalf("otelaws: %v", err)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatalf("otelaws: %v", err)
	}
	otelaws.AppendMiddlewares(&cfg.APIOptions,
		otelaws.WithTracerProvider(tracing.TracerProvider()),
		otelaws.WithTextMapPropagator(otelsetup.XRayPropagator{}),
		otelaws.WithAttributeBuilder(otelsetup.XRayAttributes))
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
