// Command xraysdk is the benchmark's variant traced by the X-Ray SDK for Go
// (github.com/aws/aws-xray-sdk-go/v2), the program users are leaving: its
// Lambda support (subsegments under the facade segment of Lambda's trace
// header, read from the invocation's context), its AWS SDK v2
// instrumentation, and segment documents as UDP datagrams to the address in
// AWS_XRAY_DAEMON_ADDRESS.
//
// The SDK has no handler wrapper: the invocation's subsegment, with the
// ColdStart and Service annotations otelsetup's wrapper adds, is one
// xray.Capture around the handler, so that an invocation has as many
// subsegments as the other variants have spans, and the SDK sends them as
// one document when it closes (a subsegment of a facade is sent with its
// children once they have all ended).
package main

import (
	"context"
	"log"
	"os"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-xray-sdk-go/v2/instrumentation/awsv2"
	"github.com/aws/aws-xray-sdk-go/v2/xray"

	"github.com/xray-tracer/xray-tracer/bench/internal/work"
)

func main() {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Fatalf("xraysdk: %v", err)
	}
	awsv2.AWSV2Instrumentor(&cfg.APIOptions)
	db := dynamodb.NewFromConfig(cfg)
	service := os.Getenv("AWS_LAMBDA_FUNCTION_NAME")
	var warm atomic.Bool
	lambda.Start(func(ctx context.Context, ev work.Event) (res work.Result, err error) {
		err = xray.Capture(ctx, "## handler", func(ctx context.Context) error {
			_ = xray.AddAnnotation(ctx, "ColdStart", !warm.Swap(true))
			_ = xray.AddAnnotation(ctx, "Service", service)
			res, err = work.Handle(ctx, ev, db, step)
			return err
		})
		return res, err
	})
}

func step(ctx context.Context, name string, fn func(context.Context) error) error {
	return xray.Capture(ctx, name, func(ctx context.Context) error {
		_ = xray.AddAnnotation(ctx, "step", name)
		return fn(ctx)
	})
}
