package resilience

import (
	"net"
	"net/http"
	"time"

	"github.com/sony/gobreaker/v2"
)

// An Option changes what [NewHTTPClient] builds.
type Option func(*options)

type options struct {
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
func defaultOptions() options {
	return options{
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
func WithTimeouts(connect, response time.Duration) Option {
	return func(o *options) { o.connectTimeout, o.responseTimeout = connect, response }
}

// WithRetries sets how many attempts a request gets (1: no retry) and the
// range of the exponential backoff between them; each wait is drawn at random
// within ±50% of its step (jitter), so that callers do not retry in step.
func WithRetries(attempts uint, first, limit time.Duration) Option {
	return func(o *options) { o.maxAttempts, o.firstBackoff, o.maxBackoff = max(attempts, 1), first, limit }
}

// WithBreaker sets after how many consecutive failed attempts the breaker
// opens, and how long it stays open before it lets one attempt through.
func WithBreaker(failures uint32, open time.Duration) Option {
	return func(o *options) { o.breakerFailures, o.breakerOpen = failures, open }
}

// WithBaseTransport sets the transport that makes the attempts (tests use it
// to reach a fake network); by default a new http.Transport with the timeouts.
func WithBaseTransport(rt http.RoundTripper) Option {
	return func(o *options) { o.base = rt }
}

// NewHTTPClient returns a client for calls outside AWS. Each request is
// retried with exponential backoff and jitter on connection errors, 429 and
// 5xx (only for idempotent methods), through a circuit breaker shared by all
// requests of the client.
//
// trace wraps the transport of one attempt, usually otelsetup's
// Tracing.HTTPTransport; nil leaves the calls untraced. It sits between the
// retries and the breaker, so that each attempt is its own span (a "remote"
// subsegment) and the breaker records its state on that span.
//
// Bound each call with its context: the client has no overall timeout of its
// own, so that a handler can fit calls into its invocation's deadline.
func NewHTTPClient(trace func(next http.RoundTripper) http.RoundTripper, opts ...Option) *http.Client {
	o := defaultOptions()
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
	var attempt http.RoundTripper = &breakerTransport{next: base, breaker: breaker}
	if trace != nil {
		attempt = trace(attempt)
	}
	return &http.Client{Transport: &retryTransport{next: attempt, opts: o}}
}
