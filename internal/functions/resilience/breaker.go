package resilience

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// BreakerStateKey is the attribute that records, on each attempt's span, the
// state of the circuit breaker when the attempt was made.
const BreakerStateKey = attribute.Key("http.client.circuit_breaker.state")

// breakerTransport makes attempts through a circuit breaker and records its
// state on each attempt's span. Connection errors and 5xx count as failures;
// a 4xx is the caller's fault, not the target's.
type breakerTransport struct {
	next    http.RoundTripper
	breaker *gobreaker.TwoStepCircuitBreaker[*http.Response]
}

func (bt *breakerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	// The request's context holds the attempt's span when a tracing
	// transport is outside this one (NewHTTPClient puts it there); without
	// one the span is a no-op.
	trace.SpanFromContext(req.Context()).SetAttributes(BreakerStateKey.String(bt.breaker.State().String()))
	done, err := bt.breaker.Allow()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Redacted(), err)
	}
	resp, err := bt.next.RoundTrip(req)
	switch {
	case err != nil:
		done(err)
	case resp.StatusCode >= 500:
		done(errors.New(resp.Status))
	default:
		done(nil)
	}
	return resp, err
}
