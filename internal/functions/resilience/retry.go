package resilience

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/cenkalti/backoff/v5"
	"github.com/sony/gobreaker/v2"
)

// retryTransport retries a request through next. It sits outside the tracing
// transport, so that every attempt gets a span of its own.
type retryTransport struct {
	next http.RoundTripper
	opts options
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
