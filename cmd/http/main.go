// Command http is the pattern's "http" function: for each request path
// published to the fan-out topic it calls an external HTTP API, and fails on
// purpose in a share of invocations so that faults show on the X-Ray map.
//
// Environment: TARGET_URL; FAILURE_RATE, the share of invocations that fail
// (0 to 1, default 0.4); and the standard OTEL_* variables.
package main

import (
	"context"
	"log"

	"github.com/xray-tracer/xray-tracer/internal/functions/envconfig"
	"github.com/xray-tracer/xray-tracer/internal/functions/httpcall"
	"github.com/xray-tracer/xray-tracer/internal/functions/resilience"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

func main() {
	if err := run(context.Background()); err != nil {
		log.Fatalf("http: %v", err)
	}
}

func run(ctx context.Context) error {
	target, err := envconfig.Require("TARGET_URL", "the URL of the external API to call")
	if err != nil {
		return err
	}
	rate, err := envconfig.Fraction("FAILURE_RATE", httpcall.DefaultFailureRate)
	if err != nil {
		return err
	}
	tracing, err := otelsetup.Setup(ctx)
	if err != nil {
		return err
	}
	// Retries outside the traced transport, the breaker inside it: a span per
	// attempt, with the breaker's state on it.
	client := resilience.NewHTTPClient(tracing.HTTPTransport)
	h := &httpcall.Handler{Client: client, URL: target, FailureRate: rate}
	otelsetup.Start(tracing, h.Handle)
	return nil
}
