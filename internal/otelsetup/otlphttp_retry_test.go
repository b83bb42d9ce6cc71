package otelsetup

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// roundTripFunc answers requests without a network, so that the exporter's
// waits run on synctest's fake clock.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A throttled collector's Retry-After is honoured when the retry fits in the
// export's deadline (the flush bound, in a function), and ends the export at
// once when it does not: waiting out the deadline for a retry that cannot be
// made would only add the whole flush bound to the invocation.
func TestOTLPHTTPExporterRetryAfterWithinDeadline(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter string
		deadline   time.Duration
		wantTries  int32
		wantTook   time.Duration
		wantErr    string
	}{
		{"retry fits: waits as asked, then succeeds", "1", 2 * time.Second, 2, time.Second, ""},
		{"retry past the deadline: gives up at once", "1", DefaultFlushTimeout - time.Millisecond, 1, 0, "asked to retry in 1s, after the export's deadline: otlp: 429 Too Many Requests"},
		{"Retry-After capped at 5 s, still past a 1 s flush", "3600", DefaultFlushTimeout, 1, 0, "asked to retry in 5s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e, err := newOTLPHTTPExporter(func(string) string { return "" })
				if err != nil {
					t.Fatal(err)
				}
				var tries atomic.Int32
				e.client = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
					_, _ = io.Copy(io.Discard, r.Body)
					status, h := http.StatusOK, http.Header{}
					if tries.Add(1) == 1 {
						status = http.StatusTooManyRequests
						h.Set("Retry-After", tt.retryAfter)
					}
					return &http.Response{StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)), Header: h, Body: http.NoBody, Request: r}, nil
				})}
				ctx, cancel := context.WithTimeout(context.Background(), tt.deadline)
				defer cancel()
				start := time.Now()
				err = e.ExportSpans(ctx, sampleSpans(t))
				took := time.Since(start)
				if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
					t.Fatalf("ExportSpans() = %v, want error %q", err, tt.wantErr)
				}
				if got := tries.Load(); got != tt.wantTries {
					t.Errorf("%d requests, want %d", got, tt.wantTries)
				}
				if took != tt.wantTook {
					t.Errorf("took %v, want %v", took, tt.wantTook)
				}
			})
		})
	}
}
