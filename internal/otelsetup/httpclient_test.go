package otelsetup_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest"
)

// answer is a network that answers every round trip with status, or with a
// connection error when status is 0, and keeps the last request's headers.
type answer struct {
	status int
	header http.Header
}

func (a *answer) RoundTrip(req *http.Request) (*http.Response, error) {
	a.header = req.Header.Clone()
	if a.status == 0 {
		return nil, errors.New("connection refused")
	}
	return &http.Response{
		StatusCode: a.status,
		Status:     http.StatusText(a.status),
		Header:     http.Header{},
		Body:       io.NopCloser(strings.NewReader("body")),
		Request:    req,
	}, nil
}

func TestHTTPTransportRecordsARemoteCall(t *testing.T) {
	tests := []struct {
		name      string
		status    int // 0: a connection error
		wantError bool
	}{
		{"success", 200, false},
		{"client error", 404, true},
		{"throttled", 429, true},
		{"server fault", 503, true},
		{"connection error", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, exp := otelsetuptest.New(t)
			net := &answer{status: tt.status}
			client := &http.Client{Transport: tr.HTTPTransport(net)}

			ctx, parent := tr.TracerProvider().Tracer("test").Start(context.Background(), "external HTTP Request")
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://api.example.test:8080/status", nil)
			resp, err := client.Do(req)
			if (err != nil) != (tt.status == 0) {
				t.Fatalf("error %v for status %d", err, tt.status)
			}
			if err == nil {
				_ = resp.Body.Close()
			}
			parent.End()
			tr.Flush(context.Background())

			s := otelsetuptest.One(t, exp.GetSpans(), "GET api.example.test:8080")
			if s.SpanKind != trace.SpanKindClient || s.Parent.SpanID() != parent.SpanContext().SpanID() {
				t.Errorf("span kind %v parent %v, want a CLIENT child of the caller: a remote subsegment", s.SpanKind, s.Parent.SpanID())
			}
			if peer, _ := otelsetuptest.Attr(s, "peer.service"); peer.AsString() != "api.example.test" {
				t.Errorf("peer.service = %q, want the host, which names the X-Ray node", peer.AsString())
			}
			if got := s.Status.Code == codes.Error; got != tt.wantError {
				t.Errorf("span status %v, want error %v", s.Status, tt.wantError)
			}
			if tt.status != 0 {
				if code, _ := otelsetuptest.Attr(s, "http.response.status_code"); code.AsInt64() != int64(tt.status) {
					t.Errorf("http.response.status_code = %v, want %d", code.AsInt64(), tt.status)
				}
			}
			wantHeader := "Root=1-" + s.SpanContext.TraceID().String()[:8] + "-"
			if got := net.header.Get("X-Amzn-Trace-Id"); !strings.HasPrefix(got, wantHeader) || !strings.Contains(got, s.SpanContext.SpanID().String()) {
				t.Errorf("X-Amzn-Trace-Id = %q, want the attempt's span as Parent", got)
			}
		})
	}
}

func TestHTTPClientIsTraced(t *testing.T) {
	var header string
	target := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		header = r.Header.Get("Traceparent")
	}))
	defer target.Close()
	tr, exp := otelsetuptest.New(t)

	resp, err := tr.HTTPClient().Get(target.URL)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	tr.Flush(context.Background())

	s := otelsetuptest.One(t, exp.GetSpans(), "GET "+strings.TrimPrefix(target.URL, "http://"))
	if !strings.Contains(header, s.SpanContext.SpanID().String()) {
		t.Errorf("traceparent = %q, want the span %s as parent", header, s.SpanContext.SpanID())
	}
}
