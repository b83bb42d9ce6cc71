// Command sqs is the pattern's "sqs" function: for each request path
// published to the fan-out topic it sends "hello from <path>" to a queue,
// which sqs-subscribe consumes.
//
// Environment: QUEUE_URL, and the standard OTEL_* and AWS_* variables.
package main

import (
	"context"
	"log"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/xray-tracer/xray-tracer/internal/functions/envconfig"
	"github.com/xray-tracer/xray-tracer/internal/functions/sqssend"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

func main() {
	if err := run(context.Background()); err != nil {
		log.Fatalf("sqs: %v", err)
	}
}

func run(ctx context.Context) error {
	queueURL, err := envconfig.Require("QUEUE_URL", "the URL of the SQS queue to send to")
	if err != nil {
		return err
	}
	tracing, err := otelsetup.Setup(ctx)
	if err != nil {
		return err
	}
	awsCfg, err := tracing.AWSConfig(ctx)
	if err != nil {
		return err
	}
	h := &sqssend.Handler{Queue: sqs.NewFromConfig(awsCfg), QueueURL: queueURL}
	otelsetup.Start(tracing, h.Handle)
	return nil
}
