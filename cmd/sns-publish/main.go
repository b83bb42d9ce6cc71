// Command sns-publish is the pattern's "sns-publish" function: for each
// request path published to the fan-out topic it publishes a message to a
// second topic, to which sns-subscribe is subscribed.
//
// Environment: TOPIC_ARN, and the standard OTEL_* and AWS_* variables.
package main

import (
	"context"
	"log"

	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/xray-tracer/xray-tracer/internal/functions/envconfig"
	"github.com/xray-tracer/xray-tracer/internal/functions/snspublish"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

func main() {
	if err := run(context.Background()); err != nil {
		log.Fatalf("sns-publish: %v", err)
	}
}

func run(ctx context.Context) error {
	topicARN, err := envconfig.Require("TOPIC_ARN", "the ARN of the SNS topic to publish to")
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
	h := &snspublish.Handler{Topic: sns.NewFromConfig(awsCfg), TopicARN: topicARN}
	otelsetup.Start(tracing, h.Handle)
	return nil
}
