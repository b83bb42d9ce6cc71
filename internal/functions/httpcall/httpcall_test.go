package httpcall_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xray-tracer/xray-tracer/internal/functions/httpcall"
	"github.com/xray-tracer/xray-tracer/internal/functions/resilience"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest"
)

func TestHandle(t *testing.T) {
	event := otelsetuptest.ReadEvent(t, "sns-fanout.json")
	tests := []struct {
		name         string
		status       int
		failureRate  float64
		wantErr      error
		wantText     string
		wantAttempts int32
		wantTree     string
		// What X-Ray shows as the type of the invocation's cause.
		wantType string
	}{
		{
			name:         "calls the target",
			status:       200,
			wantAttempts: 1,
			wantTree: `svc internal {ColdStart=true, Service=svc}
  external HTTP Request internal {path=/orders/42}
    GET HOST client
`,
		},
		{
			name:         "fails on purpose",
			status:       200,
			failureRate:  1,
			wantErr:      httpcall.ErrSimulated,
			wantAttempts: 1,
			wantType:     "httpcall.SimulatedFailure",
			wantTree: `svc internal {ColdStart=true, Service=svc} ERROR
  external HTTP Request internal {path=/orders/42} ERROR
    GET HOST client
`,
		},
		{
			name:         "target faults after retries",
			status:       503,
			wantText:     "503 Service Unavailable",
			wantAttempts: 3,
			wantType:     "*httpcall.StatusError",
			wantTree: `svc internal {ColdStart=true, Service=svc} ERROR
  external HTTP Request internal {path=/orders/42} ERROR
    GET HOST client ERROR
    GET HOST client ERROR
    GET HOST client ERROR
`,
		},
		{
			name:         "client error is not retried",
			status:       404,
			wantText:     "404 Not Found",
			wantAttempts: 1,
			wantType:     "*httpcall.StatusError",
			wantTree: `svc internal {ColdStart=true, Service=svc} ERROR
  external HTTP Request internal {path=/orders/42} ERROR
    GET HOST client ERROR
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("OTEL_SERVICE_NAME", "svc")
			var attempts atomic.Int32
			var sawTrace atomic.Bool
			target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				attempts.Add(1)
				// The call carries the trace, for a target that is traced too.
				sawTrace.Store(strings.HasPrefix(r.Header.Get("X-Amzn-Trace-Id"), "Root=1-674a8c00-") && r.Header.Get("Traceparent") != "")
				w.WriteHeader(tt.status)
			}))
			defer target.Close()
			tr, exp := otelsetuptest.New(t)
			h := &httpcall.Handler{
				Client:      resilience.NewHTTPClient(tr.HTTPTransport, resilience.WithRetries(3, time.Millisecond, 2*time.Millisecond)),
				URL:         target.URL,
				FailureRate: tt.failureRate,
			}

			res, err := otelsetuptest.Invoke[httpcall.Result](t, otelsetuptest.InvocationContext("req-1", otelsetuptest.TraceHeader), otelsetup.Wrap(tr, h.Handle), event)
			otelsetuptest.CheckError(t, err, tt.wantErr, tt.wantText)
			inv := otelsetuptest.One(t, exp.GetSpans(), "svc")
			if got := otelsetuptest.ExceptionType(inv); got != tt.wantType {
				t.Errorf("exception.type = %q, want %q", got, tt.wantType)
			}
			want := strings.ReplaceAll(tt.wantTree, "HOST", strings.TrimPrefix(target.URL, "http://"))
			if got := otelsetuptest.Tree(exp.GetSpans()); got != want {
				t.Errorf("span tree:\n%s\nwant:\n%s", got, want)
			}
			if got := attempts.Load(); got != tt.wantAttempts {
				t.Errorf("%d attempts, want %d", got, tt.wantAttempts)
			}
			if !sawTrace.Load() {
				t.Errorf("the target got no trace headers")
			}
			if err == nil && (len(res.StatusCodes) != 1 || res.StatusCodes[0] != tt.status) {
				t.Errorf("result = %+v, want status %d", res, tt.status)
			}
		})
	}
}

func TestFailureRateIsAShare(t *testing.T) {
	tests := []struct {
		rate     float64
		roll     float64
		wantFail bool
	}{
		{0, 0, false},
		{0.4, 0.39, true},
		{0.4, 0.4, false},
		{1, 0.999, true},
	}
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer target.Close()
	event := otelsetuptest.ReadEvent(t, "sns-fanout.json")
	for _, tt := range tests {
		tr, _ := otelsetuptest.New(t)
		h := &httpcall.Handler{Client: resilience.NewHTTPClient(tr.HTTPTransport), URL: target.URL, FailureRate: tt.rate, Roll: func() float64 { return tt.roll }}
		_, err := otelsetuptest.Invoke[httpcall.Result](t, otelsetuptest.InvocationContext("r", otelsetuptest.TraceHeader), otelsetup.Wrap(tr, h.Handle), event)
		if errors.Is(err, httpcall.ErrSimulated) != tt.wantFail {
			t.Errorf("rate %v roll %v: error %v, want failure %v", tt.rate, tt.roll, err, tt.wantFail)
		}
	}
}
