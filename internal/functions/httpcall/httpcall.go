// Package httpcall calls an external HTTP API for each request path: the
// "http" function of the pattern. It fails on purpose in a share of its
// invocations, so that faults show on the X-Ray map.
package httpcall

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"

	"github.com/aws/aws-lambda-go/events"

	"github.com/xray-tracer/xray-tracer/internal/functions/fanout"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

// SubsegmentName is the business subsegment of one call.
const SubsegmentName = "external HTTP Request"

// DefaultFailureRate is the share of calls that fail on purpose unless
// FAILURE_RATE says otherwise, as in the original pattern.
const DefaultFailureRate = 0.4

// ErrSimulated is the error of a call that failed on purpose. It has a type
// of its own, SimulatedFailure, which X-Ray shows as the type of the fault's
// cause.
var ErrSimulated error = SimulatedFailure{}

// SimulatedFailure is the type of [ErrSimulated].
type SimulatedFailure struct{}

func (SimulatedFailure) Error() string { return "simulated failure" }

// StatusError is the error of a call the target answered with a status of
// 400 or above (after the client's retries for 429 and 5xx).
type StatusError struct {
	// URL is the URL called, redacted (otelsetup.RedactURL): the error is
	// recorded on the span.
	Method, URL string
	StatusCode  int
	Status      string // such as "503 Service Unavailable"
}

func (e *StatusError) Error() string { return fmt.Sprintf("%s %s: %s", e.Method, e.URL, e.Status) }

// Handler GETs URL once per path with Client (built by
// resilience.NewHTTPClient over otelsetup's traced transport: retries,
// backoff and a breaker, a span per attempt), then fails with
// [ErrSimulated] in a FailureRate share of calls (0: never, 1: always).
type Handler struct {
	Client      *http.Client
	URL         string
	FailureRate float64
	// Roll draws the number compared with FailureRate; rand.Float64 if nil.
	Roll func() float64
}

// Result is the status of each call.
type Result struct {
	StatusCodes []int `json:"statusCodes"`
}

// Handle takes an SNS event from the fan-out topic.
func (h *Handler) Handle(ctx context.Context, ev events.SNSEvent) (Result, error) {
	var res Result
	err := fanout.Each(ctx, ev, SubsegmentName, func(ctx context.Context, path string) error {
		_ = otelsetup.PutAnnotation(ctx, "path", path)
		// Redacted wherever it is recorded: TARGET_URL may be a presigned
		// URL, whose query holds a signature and credentials.
		otelsetup.PutMetadata(ctx, "url", otelsetup.RedactURL(h.URL))
		status, err := h.get(ctx)
		if err != nil {
			return err
		}
		res.StatusCodes = append(res.StatusCodes, status)
		otelsetup.PutMetadata(ctx, "status_code", status)
		if h.roll() < h.FailureRate {
			return fmt.Errorf("GET %s answered %d, then %w (FAILURE_RATE=%g)", otelsetup.RedactURL(h.URL), status, ErrSimulated, h.FailureRate)
		}
		return nil
	})
	return res, err
}

func (h *Handler) get(ctx context.Context) (int, error) {
	redacted := otelsetup.RedactURL(h.URL)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URL, nil)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", redacted, err)
	}
	resp, err := h.Client.Do(req)
	if err != nil {
		// The client's *url.Error names the URL whole.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			ue.URL = redacted
		}
		return 0, fmt.Errorf("GET %s: %w", redacted, err)
	}
	defer resp.Body.Close()
	// Read a bounded amount: the body is not used, and reading it lets the
	// connection be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 400 {
		return resp.StatusCode, &StatusError{Method: http.MethodGet, URL: redacted, StatusCode: resp.StatusCode, Status: resp.Status}
	}
	return resp.StatusCode, nil
}

func (h *Handler) roll() float64 {
	if h.Roll != nil {
		return h.Roll()
	}
	return rand.Float64()
}
