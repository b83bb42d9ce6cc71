package otelsetup_test

import (
	"context"
	"fmt"
	"log"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

// The whole of a traced function's main.
func Example() {
	ctx := context.Background()
	tracing, err := otelsetup.Setup(ctx)
	if err != nil {
		log.Fatal(err)
	}
	awsCfg, err := tracing.AWSConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	queue := sqs.NewFromConfig(awsCfg)
	handler := func(ctx context.Context, ev events.SNSEvent) (string, error) {
		_, err := queue.SendMessage(ctx, &sqs.SendMessageInput{ /* ... */ })
		return "sent", err
	}
	otelsetup.Start(tracing, handler)
}

// Wrap is the handler wrapper on its own, for lambda.StartWithOptions with
// options of your own: the decoder's options go to Wrap, the process's
// (SIGTERM, the base context) to lambda.StartWithOptions.
func ExampleWrap() {
	tracing, err := otelsetup.Setup(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	handler := func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		return events.SQSEventResponse{}, nil
	}
	lambda.StartWithOptions(otelsetup.Wrap(tracing, handler, lambda.WithDisallowUnknownFields(true)), lambda.WithEnableSIGTERM(func() {
		_ = tracing.Shutdown(context.Background())
	}))
}

// A business step as its own subsegment, with an annotation trace search can
// filter on (annotation.path = "/orders/42") and metadata it cannot.
func ExampleCapture() {
	ctx := context.Background() // in a handler: the invocation's context
	err := otelsetup.Capture(ctx, "DynamoDB Query", func(ctx context.Context) error {
		if err := otelsetup.PutAnnotation(ctx, "path", "/orders/42"); err != nil {
			return err
		}
		otelsetup.PutMetadata(ctx, "item", map[string]int{"hits": 3})
		return nil
	})
	fmt.Println(err)
	// Output: <nil>
}

// Annotation keys are A-Z, a-z, 0-9 and _; a value that breaks the rule is
// kept as metadata and the error says why.
func ExamplePutAnnotation() {
	ctx := context.Background()
	fmt.Println(otelsetup.PutAnnotation(ctx, "order_id", 42))
	fmt.Println(otelsetup.PutAnnotation(ctx, "Order-ID", 42))
	// Output:
	// <nil>
	// annotation key "Order-ID": '-' is not one of A-Z, a-z, 0-9, _: not an X-Ray annotation
}

// A client for an API outside AWS: each request a span, which X-Ray shows as
// a "remote" subsegment named after the host.
func ExampleTracing_HTTPClient() {
	tracing, err := otelsetup.Setup(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	client := tracing.HTTPClient()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "https://api.example.com/status", nil)
	_, _ = client.Do(req)
}

// Retries of your own around the traced transport, so that every attempt is
// a span of its own. A circuit breaker would go inside it, as the transport
// given to HTTPTransport, so that a call it refuses is a failed span too.
func ExampleTracing_HTTPTransport() {
	tracing, err := otelsetup.Setup(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	client := &http.Client{Transport: retries{next: tracing.HTTPTransport(http.DefaultTransport), attempts: 3}}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "https://api.example.com/status", nil)
	_, _ = client.Do(req)
}

// retries is the simplest retry policy, for the example: up to attempts
// tries of a request without a body, while the answer is an error or a 5xx.
type retries struct {
	next     http.RoundTripper
	attempts int
}

func (r retries) RoundTrip(req *http.Request) (*http.Response, error) {
	for attempt := 1; ; attempt++ {
		resp, err := r.next.RoundTrip(req)
		if attempt >= r.attempts || (err == nil && resp.StatusCode < 500) {
			return resp, err
		}
		if err == nil {
			_ = resp.Body.Close()
		}
	}
}
