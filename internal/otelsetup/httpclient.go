package otelsetup

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// BreakerStateKey is the attribute that records, on each attempt's span, the
// state of the circuit breaker when the attempt was made.
const BreakerStateKey = attribute.Key("http.client.circuit_breaker.state")

const peerServiceKey = attribute.Key("peer.service")

// An HTTPOption changes what [Tracing.HTTPClient] builds.
type HTTPOption func(*httpOptions)

type httpOptions struct {
	connectTimeout  time.Duration
	responseTimeout time.Duration
	maxAttempts     uint
	firstBackoff    time.Duration
	maxBackoff      time.Duration
	breakerFailures uint32
	breakerOpen     time.Duration
	base            http.RoundTripper
}

// Defaults for calls to an API outside AWS: a few seconds at most per attempt,
// three attempts, and a breaker that stops calling a target after five
// failures in a row and tries it again thirty seconds later.
func defaultHTTPOptions() httpOptions {
	return httpOptions{
		connectTimeout:  2 * time.Second,
		responseTimeout: 3 * time.Second,
		maxAttempts:     3,
		firstBackoff:    100 * time.Millisecond,
		maxBackoff:      time.Second,
		breakerFailures: 5,
		breakerOpen:     30 * time.Second,
	}
}

// WithTimeouts bounds connecting (TCP and TLS) and waiting for the response
// headers, per attempt.
func WithTimeouts(connect, response time.Duration) HTTPOption {
	return func(o *httpOptions) { o.connectTimeout, o.responseTimeout = connect, response }
}

// WithRetries sets how many attempts a request gets (1: no retry) and the
// range of the exponential backoff between them; each wait is drawn at random
// within ±50% of its step (jitter), so that callers do not retry in step.
func WithRetries(attempts uint, first, limit time.Duration) HTTPOption {
	return func(o *httpOptions) { o.maxAttempts, o.firstBackoff, o.maxBackoff = max1(attempts), first, limit }
}

// WithBreaker sets after how many consecutive failed attempts the breaker
// opens, and how long it stays open before it lets one attempt through.
func WithBreaker(failures uint32, open time.Duration) HTTPOption {
	return func(o *httpOptions) { o.breakerFailures, o.breakerOpen = failures, open }
}

// WithBaseTransport sets the transport that makes the attempts (tests use it
// to reach a fake network); by default a new http.Transport with the timeouts.
func WithBaseTransport(rt http.RoundTripper) HTTPOption {
	return func(o *httpOptions) { o.base = rt }
}

// HTTPClient returns a client for calls outside AWS. Each request is retried
// with exponential backoff and jitter on connection errors, 429 and 5xx (only
// for idempotent methods), through a circuit breaker shared by all requests
// of the client; each attempt is its own CLIENT span, which the awsxray
// exporter shows as a "remote" subsegment, with the breaker's state on it.
//
// Bound each call with its context: the client has no overall timeout of its
// own, so that a handler can fit calls into its invocation's deadline.
func (t *Tracing) HTTPClient(opts ...HTTPOption) *http.Client {
	o := defaultHTTPOptions()
	for _, opt := range opts {
		opt(&o)
	}
	base := o.base
	if base == nil {
		dialer := &net.Dialer{Timeout: o.connectTimeout}
		base = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   o.connectTimeout,
			ResponseHeaderTimeout: o.responseTimeout,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
		}
	}
	breaker := gobreaker.NewTwoStepCircuitBreaker[*http.Response](gobreaker.Settings{
		Name:    "http",
		Timeout: o.breakerOpen,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= o.breakerFailures
		},
	})
	traced := otelhttp.NewTransport(redactURLTransport{&breakerTransport{next: base, breaker: breaker}},
		otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithPropagators(t.propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			return r.Method + " " + r.URL.Host
		}),
	)
	return &http.Client{Transport: &retryTransport{next: traced, opts: o}}
}

// retryTransport retries a request through next. It sits outside the tracing
// transport, so that every attempt gets a span of its own.
type retryTransport struct {
	next http.RoundTripper
	opts httpOptions
}

// errRetryableStatus marks a response worth another attempt.
var errRetryableStatus = errors.New("retryable status")

func (rt *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !idempotent(req) {
		return rt.next.RoundTrip(req)
	}
	policy := &backoff.ExponentialBackOff{
		InitialInterval:     rt.opts.firstBackoff,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         rt.opts.maxBackoff,
	}
	attempt := uint(0)
	return backoff.Retry(req.Context(), func() (*http.Response, error) {
		attempt++
		r := req
		if attempt > 1 {
			var err error
			if r, err = rewind(req); err != nil {
				return nil, backoff.Permanent(err)
			}
		}
		resp, err := rt.next.RoundTrip(r)
		last := attempt >= rt.opts.maxAttempts
		switch {
		case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
			return nil, backoff.Permanent(err)
		case err != nil:
			return nil, err
		case !retryableStatus(resp.StatusCode) || last:
			return resp, nil
		}
		wait := retryAfter(resp)
		// Drain so that the connection can be reused by the next attempt.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		if wait > 0 {
			return nil, backoff.RetryAfter(wait)
		}
		return nil, fmt.Errorf("%s %s: %s: %w", req.Method, req.URL.Redacted(), resp.Status, errRetryableStatus)
	}, backoff.WithBackOff(policy), backoff.WithMaxTries(rt.opts.maxAttempts), backoff.WithMaxElapsedTime(0))
}

// breakerTransport makes attempts through a circuit breaker and records on
// each attempt's span what X-Ray shows of it. Connection errors and 5xx count
// as failures; a 4xx is the caller's fault, not the target's.
type breakerTransport struct {
	next    http.RoundTripper
	breaker *gobreaker.TwoStepCircuitBreaker[*http.Response]
}

func (bt *breakerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	// The request's context holds the attempt's span (otelhttp starts it).
	// peer.service names the remote node on the X-Ray map after the host, as
	// the X-Ray SDK does; the exporter reads it before the span name.
	span := trace.SpanFromContext(req.Context())
	span.SetAttributes(
		BreakerStateKey.String(bt.breaker.State().String()),
		peerServiceKey.String(req.URL.Hostname()),
	)
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

// idempotent reports whether req may be sent again (RFC 9110, 9.2.2) and its
// body can be replayed.
func idempotent(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	}
	return false
}

func rewind(req *http.Request) (*http.Request, error) {
	r := req.Clone(req.Context())
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("%s %s: replay body: %w", req.Method, req.URL.Redacted(), err)
		}
		r.Body = body
	}
	return r, nil
}

func retryableStatus(code int) bool {
	return code == http.StatusTooManyRequests || code >= 500
}

// retryAfter reads a Retry-After header given in seconds, capped so that a
// server cannot hold an invocation for long.
func retryAfter(resp *http.Response) int {
	s, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || s <= 0 {
		return 0
	}
	return min(s, 5)
}

func max1(n uint) uint {
	if n == 0 {
		return 1
	}
	return n
}
