package otelsetup

import (
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

const peerServiceKey = attribute.Key("peer.service")

// HTTPTransport returns a transport that makes each round trip through next
// (http.DefaultTransport if nil) as a CLIENT span, which the awsxray exporter
// shows as a "remote" subsegment named after the host, and sends the trace
// headers of the function's propagators with it.
//
// This package traces HTTP calls and does nothing else to them: retries,
// timeouts and circuit breakers are the caller's. Put them around and inside
// the traced transport so that X-Ray sees what happened:
//   - retries outside it, so that every attempt is a span of its own;
//   - a circuit breaker inside it, so that a call the breaker refuses is a
//     failed span too; the request's context holds the attempt's span
//     (trace.SpanFromContext), where the breaker can record its state.
func (t *Tracing) HTTPTransport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return otelhttp.NewTransport(redactURLTransport{peerService{next: next}},
		otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithPropagators(t.propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			return r.Method + " " + r.URL.Host
		}),
	)
}

// HTTPClient returns a client whose every request is traced by
// [Tracing.HTTPTransport] over http.DefaultTransport.
//
// Bound each call with its context: the client has no overall timeout of its
// own, so that a handler can fit calls into its invocation's deadline.
func (t *Tracing) HTTPClient() *http.Client {
	return &http.Client{Transport: t.HTTPTransport(nil)}
}

// peerService names the remote node on the X-Ray map after the host, as the
// X-Ray SDK does: the exporter reads peer.service before the span's name. It
// sits inside otelhttp's transport, whose span the request's context holds.
type peerService struct{ next http.RoundTripper }

func (p peerService) RoundTrip(req *http.Request) (*http.Response, error) {
	trace.SpanFromContext(req.Context()).SetAttributes(peerServiceKey.String(req.URL.Hostname()))
	return p.next.RoundTrip(req)
}
