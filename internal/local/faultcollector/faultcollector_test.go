package faultcollector_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/xray-tracer/xray-tracer/internal/local/faultcollector"
)

const traceID = "1-674a8c00-0123456789abcdef01234567"

// exportRequest is an OTLP request of one span of traceID.
func exportRequest(t *testing.T) []byte {
	t.Helper()
	id := []byte{0x67, 0x4a, 0x8c, 0x00, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67}
	b, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{TraceId: id, SpanId: []byte{1, 2, 3, 4, 5, 6, 7, 8}, Name: "invocation"}}}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Each fault fails an export as it says; switched back to healthy on the
// same port, the collector takes the next export and keeps its spans.
func TestCollector(t *testing.T) {
	tests := []struct {
		fault      faultcollector.Fault
		wantStatus int    // 0: want an error
		wantErr    string // in the error
		retryAfter string
	}{
		{fault: faultcollector.Down, wantErr: "connection refused"},
		{fault: faultcollector.Hang, wantErr: "Client.Timeout exceeded"},
		{fault: faultcollector.ServerError, wantStatus: http.StatusInternalServerError},
		{fault: faultcollector.Throttled, wantStatus: http.StatusTooManyRequests, retryAfter: "1"},
		{fault: faultcollector.Reset, wantErr: "connection reset by peer"},
		// The client gives up long before SlowDelay.
		{fault: faultcollector.Slow, wantErr: "Client.Timeout exceeded"},
	}
	for _, tt := range tests {
		t.Run(string(tt.fault), func(t *testing.T) {
			c, err := faultcollector.Start(tt.fault)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			client := &http.Client{Timeout: 200 * time.Millisecond, Transport: &http.Transport{}}
			post := func() (*http.Response, error) {
				return client.Post(c.Endpoint()+"/v1/traces", "application/x-protobuf", bytes.NewReader(exportRequest(t)))
			}
			resp, err := post()
			switch {
			case tt.wantStatus == 0 && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("export under %q: %v, want an error with %q", tt.fault, err, tt.wantErr)
			case tt.wantStatus != 0 && err != nil:
				t.Fatalf("export under %q: %v, want %d", tt.fault, err, tt.wantStatus)
			case tt.wantStatus != 0:
				_ = resp.Body.Close()
				if resp.StatusCode != tt.wantStatus || resp.Header.Get("Retry-After") != tt.retryAfter {
					t.Errorf("answer %d, Retry-After %q; want %d, %q", resp.StatusCode, resp.Header.Get("Retry-After"), tt.wantStatus, tt.retryAfter)
				}
			}
			if len(c.Spans()) != 0 {
				t.Errorf("spans kept under the fault: %v", c.Spans())
			}

			if err := c.Set(faultcollector.Healthy); err != nil {
				t.Fatal(err)
			}
			resp, err = post()
			if err != nil {
				t.Fatalf("export once healthy: %v", err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("export once healthy: %s", resp.Status)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if spans, err := c.WaitForTrace(ctx, traceID); err != nil || len(spans) != 1 || spans[0].Name != "invocation" {
				t.Errorf("WaitForTrace = %v, %v; want the span exported once healthy", spans, err)
			}
		})
	}
}
