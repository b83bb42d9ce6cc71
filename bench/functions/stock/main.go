// Command stock is the benchmark's reference: the upstream setup that the
// opentelemetry-lambda Go sample shows. xrayconfig's tracer provider (the
// OTLP gRPC exporter to localhost, the Lambda resource detector, X-Ray ids),
// otellambda.InstrumentHandler with xrayconfig's recommended options (X-Ray
// propagation from _X_AMZN_TRACE_ID, a flush after each invocation), and
// otelaws on the AWS SDK client.
package main

import (
	"context"
	"log"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"go.opentelemetry.io/contrib/instrumentation/github.com/aws/aws-lambda-go/otellambda"
	"go.opentelemetry.io/contrib/instrumentation/github.com/aws/aws-lambda-go/otellambda/xrayconfig"
	"go.opentelemetry.io/contrib/instrumentation/github.com/aws/aws-sdk-go-v2/otelaws"
	"go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/bench/internal/work"
)

func main() {
	ctx := context.Background()
	tp, err := xrayconfig.NewTracerProvider(ctx)
	if err != nil {
		log.Fatalf("stock: %v", err)
	}
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(xray.Propagator{})
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatalf("stock: %v", err)
	}
	otelaws.AppendMiddlewares(&cfg.APIOptions)
	db := dynamodb.NewFromConfig(cfg)
	tracer := tp.Tracer("github.com/xray-tracer/xray-tracer/bench/functions/stock")
	step := func(ctx context.Context, name string, fn func(context.Context) error) error {
		ctx, span := tracer.Start(ctx, name, trace.WithAttributes(attribute.String("step", name)))
		defer span.End()
		err := fn(ctx)
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		return err
	}
	handler := func(ctx context.Context, ev work.Event) (work.Result, error) {
		return work.Handle(ctx, ev, db, step)
	}
	lambda.Start(otellambda.InstrumentHandler(handler, xrayconfig.WithRecommendedOptions(tp)...))
}
