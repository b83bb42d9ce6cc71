// Command dynamo is the pattern's "dynamo" function: for each request path
// published to the fan-out topic it adds a hit in a DynamoDB table.
//
// Environment: TABLE_NAME, and the standard OTEL_* and AWS_* variables that
// internal/otelsetup and the AWS SDK read.
package main

import (
	"context"
	"log"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/xray-tracer/xray-tracer/internal/functions/dynamo"
	"github.com/xray-tracer/xray-tracer/internal/functions/envconfig"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

func main() {
	if err := run(context.Background()); err != nil {
		log.Fatalf("dynamo: %v", err)
	}
}

func run(ctx context.Context) error {
	table, err := envconfig.Require("TABLE_NAME", "the name of the DynamoDB table of hits")
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
	h := &dynamo.Handler{DB: dynamodb.NewFromConfig(awsCfg), Table: table}
	otelsetup.Start(tracing, h.Handle)
	return nil
}
