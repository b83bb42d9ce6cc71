// Command local runs the pattern's functions on this machine, with no AWS
// account, and prints their spans. For now it drives the "http" function:
// its real handler, wrapped by otelsetup exactly as in Lambda, invoked with
// the SNS event the fan-out topic delivers and a trace header shaped as
// Lambda passes it, calling a target served on localhost.
//
//	go run ./cmd/local -n 5
//
// Spans go to the console unless OTEL_TRACES_EXPORTER says otherwise (for
// example otlp, with OTEL_EXPORTER_OTLP_ENDPOINT pointing at a Jaeger).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"go.opentelemetry.io/contrib/propagators/aws/xray"

	"github.com/xray-tracer/xray-tracer/internal/envconfig"
	"github.com/xray-tracer/xray-tracer/internal/httpcall"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

func main() {
	n := flag.Int("n", 5, "how many invocations to make")
	path := flag.String("path", "/orders/42", "the request path the API would publish")
	flag.Parse()
	if err := run(context.Background(), *n, *path); err != nil {
		log.Fatalf("local: %v", err)
	}
}

func run(ctx context.Context, n int, path string) error {
	setDefault("OTEL_TRACES_EXPORTER", "console")
	setDefault("OTEL_SERVICE_NAME", "http")
	rate, err := envconfig.Fraction("FAILURE_RATE", httpcall.DefaultFailureRate)
	if err != nil {
		return err
	}

	target, err := serveTarget()
	if err != nil {
		return err
	}
	tracing, err := otelsetup.Setup(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tracing.Shutdown(ctx) }()
	h := &httpcall.Handler{Client: tracing.HTTPClient(), URL: target, FailureRate: rate}
	invoke := otelsetup.Wrap(tracing, h.Handle)

	event, err := json.Marshal(fanoutEvent(path))
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "local: invoking the http function %d times (FAILURE_RATE=%g, target %s)\n", n, rate, target)
	broken := 0
	for i := range n {
		ctx, header := invocationContext(ctx, i)
		start := time.Now()
		_, err := invoke(ctx, event)
		outcome := "ok"
		if errors.Is(err, httpcall.ErrSimulated) {
			outcome = "failed on purpose: " + err.Error()
		} else if err != nil {
			outcome = "failed: " + err.Error()
			broken++
		}
		fmt.Fprintf(os.Stderr, "local: invocation %d (%s) in %v: %s\n", i+1, header, time.Since(start).Round(time.Microsecond), outcome)
	}
	if broken > 0 {
		return fmt.Errorf("%d of %d invocations failed for a reason other than FAILURE_RATE", broken, n)
	}
	return nil
}

// serveTarget answers GET with 200 on a loopback port: the external API.
func serveTarget() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("listen for the local target: %w", err)
	}
	go func() {
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintln(w, `{"status":"ok"}`)
		}))
	}()
	return "http://" + ln.Addr().String() + "/status", nil
}

// invocationContext is what aws-lambda-go gives a handler in Lambda with
// active tracing: the Lambda context and the trace header, whose Parent is
// the id of the segment Lambda records for the function.
func invocationContext(ctx context.Context, i int) (context.Context, string) {
	traceID, segmentID := xray.NewIDGenerator().NewIDs(ctx)
	t := traceID.String()
	header := fmt.Sprintf("Root=1-%s-%s;Parent=%s;Sampled=1", t[:8], t[8:], segmentID)
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = "local"
	}
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		AwsRequestID:       fmt.Sprintf("local-%04d", i+1),
		InvokedFunctionArn: "arn:aws:lambda:" + region + ":000000000000:function:http",
	})
	//lint:ignore SA1029 aws-lambda-go stores the header under this plain string key.
	return context.WithValue(ctx, "x-amzn-trace-id", header), header
}

func fanoutEvent(path string) events.SNSEvent {
	return events.SNSEvent{Records: []events.SNSEventRecord{{
		EventSource: "aws:sns",
		SNS: events.SNSEntity{
			Type:      "Notification",
			MessageID: "local-message",
			TopicArn:  "arn:aws:sns:local:000000000000:fan-out",
			Message:   path,
			Timestamp: time.Now().UTC(),
		},
	}}}
}

func setDefault(name, value string) {
	if os.Getenv(name) == "" {
		_ = os.Setenv(name, value)
	}
}
