// Command untraced is the benchmark's control: the work with no tracing at
// all, and the AWS SDK client every variant builds at init.
package main

import (
	"context"
	"log"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/xray-tracer/xray-tracer/bench/internal/work"
)

func main() {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Fatalf("untraced: %v", err)
	}
	db := dynamodb.NewFromConfig(cfg)
	lambda.Start(func(ctx context.Context, ev work.Event) (work.Result, error) {
		return work.Handle(ctx, ev, db, work.Plain)
	})
}
