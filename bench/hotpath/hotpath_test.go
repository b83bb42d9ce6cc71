// Package hotpath benchmarks the paths tracing adds to every invocation,
// each done this project's way (impl=otelsetup) and the stock way
// (impl=stock: otellambda, the X-Ray propagator, span attributes, otelaws),
// so that benchstat can set them side by side:
//
//	go test -run '^$' -bench . -benchmem -count 6 ./hotpath > out.txt
//	go tool benchstat -col /impl out.txt
package hotpath

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/logging"
	"go.opentelemetry.io/contrib/instrumentation/github.com/aws/aws-lambda-go/otellambda"
	"go.opentelemetry.io/contrib/instrumentation/github.com/aws/aws-lambda-go/otellambda/xrayconfig"
	"go.opentelemetry.io/contrib/instrumentation/github.com/aws/aws-sdk-go-v2/otelaws"
	"go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/xray-tracer/xray-tracer/bench/internal/work"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest/awstest"
)

const header = "Root=1-6b0652bc-3d8dbcca3b428f42645ea3e6;Parent=53995c3f42cd8ad8;Sampled=1"

var payload = json.RawMessage(`{"spans":1}`)

// tracing is otelsetup's setup with spans dropped: the benchmarks measure
// the path, not an exporter.
func tracing(b *testing.B) *otelsetup.Tracing {
	b.Helper()
	tr, err := otelsetup.Setup(context.Background(), otelsetup.WithExporter(tracetest.NewNoopExporter()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	return tr
}

// stockProvider is xrayconfig's provider without its gRPC exporter: the
// same batch processor, ID generator and resource, spans dropped.
func stockProvider(b *testing.B) *sdktrace.TracerProvider {
	b.Helper()
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(tracetest.NewNoopExporter()),
		sdktrace.WithIDGenerator(xray.NewIDGenerator()),
	)
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp
}

func handler(ctx context.Context, ev work.Event) (work.Result, error) {
	return work.Result{Steps: ev.Spans}, nil
}

// BenchmarkWrap is one invocation through the handler wrapper: decoding the
// event, the invocation's span, and the flush that ends it.
func BenchmarkWrap(b *testing.B) {
	b.Setenv("_X_AMZN_TRACE_ID", header) // xrayconfig reads the header here
	ctx := otelsetuptest.InvocationContext("bench", header)
	b.Run("impl=otelsetup", func(b *testing.B) {
		invoke := otelsetup.Wrap(tracing(b), handler)
		for b.Loop() {
			if _, err := invoke.Invoke(ctx, payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=stock", func(b *testing.B) {
		tp := stockProvider(b)
		// The wrapper takes the event as any: aws-lambda-go decodes it into
		// a map, which the wrapper encodes and decodes again into the
		// handler's type.
		invoke := otellambda.InstrumentHandler(handler, xrayconfig.WithRecommendedOptions(tp)...).(func(context.Context, any) (any, error))
		for b.Loop() {
			var ev any
			if err := json.Unmarshal(payload, &ev); err != nil {
				b.Fatal(err)
			}
			if _, err := invoke(ctx, ev); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkTraceHeader reads Lambda's trace header into a span context.
func BenchmarkTraceHeader(b *testing.B) {
	b.Run("impl=otelsetup", func(b *testing.B) {
		for b.Loop() {
			if _, ok := otelsetup.LinkFromTraceHeader(header); !ok {
				b.Fatal("not parsed")
			}
		}
	})
	b.Run("impl=stock", func(b *testing.B) {
		p := xray.Propagator{}
		for b.Loop() {
			_ = p.Extract(context.Background(), propagation.HeaderCarrier{"X-Amzn-Trace-Id": []string{header}})
		}
	})
}

// BenchmarkAnnotate adds one annotation (an indexed X-Ray key) to a span.
func BenchmarkAnnotate(b *testing.B) {
	b.Run("impl=otelsetup", func(b *testing.B) {
		tr := tracing(b)
		ctx, span := tr.TracerProvider().Tracer("bench").Start(context.Background(), "span")
		defer span.End()
		for b.Loop() {
			if err := otelsetup.PutAnnotation(ctx, "path", "/orders/42"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=stock", func(b *testing.B) {
		_, span := stockProvider(b).Tracer("bench").Start(context.Background(), "span")
		defer span.End()
		for b.Loop() {
			span.SetAttributes(attribute.String("path", "/orders/42"))
		}
	})
}

// BenchmarkSDKMiddleware is one traced DynamoDB call against a stand-in on
// loopback: the SDK's middleware, the span, the trace header.
func BenchmarkSDKMiddleware(b *testing.B) {
	srv := awstest.Start()
	defer srv.Close()
	// The SDK logs to stdout, which would cut go test's result lines.
	opts := append(srv.LoadOptions(), config.WithLogger(logging.Nop{}))
	in := &dynamodb.UpdateItemInput{
		TableName:        aws.String("Hits"),
		Key:              map[string]types.AttributeValue{"path": &types.AttributeValueMemberS{Value: "/"}},
		UpdateExpression: aws.String("ADD hits :one"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": &types.AttributeValueMemberN{Value: "1"},
		},
	}
	run := func(b *testing.B, db *dynamodb.Client, ctx context.Context) {
		for b.Loop() {
			if _, err := db.UpdateItem(ctx, in); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("impl=otelsetup", func(b *testing.B) {
		tr := tracing(b)
		cfg, err := tr.AWSConfig(context.Background(), opts...)
		if err != nil {
			b.Fatal(err)
		}
		ctx, span := tr.TracerProvider().Tracer("bench").Start(context.Background(), "invocation")
		defer span.End()
		run(b, dynamodb.NewFromConfig(cfg), ctx)
	})
	b.Run("impl=stock", func(b *testing.B) {
		tp := stockProvider(b)
		cfg, err := config.LoadDefaultConfig(context.Background(), opts...)
		if err != nil {
			b.Fatal(err)
		}
		otelaws.AppendMiddlewares(&cfg.APIOptions, otelaws.WithTracerProvider(tp), otelaws.WithTextMapPropagator(xray.Propagator{}))
		ctx, span := tp.Tracer("bench").Start(context.Background(), "invocation")
		defer span.End()
		run(b, dynamodb.NewFromConfig(cfg), ctx)
	})
}
