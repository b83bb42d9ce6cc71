package jaegerapi_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/internal/local/jaegerapi"
	"github.com/xray-tracer/xray-tracer/internal/local/waterfall"
)

// testdata/trace.json is what Jaeger v2.13 answered the local runner for
// GET /api/v3/traces/<id>: one request through the whole pattern.
const traceID = "6b0654dc263948016aaf5f6354b0527b"

// jaeger serves the fixture for the trace and search endpoints, and
// Jaeger's 404 answer otherwise; it records the queries it got.
func jaeger(t *testing.T) (*jaegerapi.Client, *[]string) {
	t.Helper()
	fixture, err := os.ReadFile("testdata/trace.json")
	if err != nil {
		t.Fatal(err)
	}
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RequestURI())
		if r.URL.Path == "/api/v3/traces/"+traceID || (r.URL.Path == "/api/v3/traces" && r.URL.Query().Get("query.service_name") == "http") {
			_, _ = w.Write(fixture)
			return
		}
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"httpCode":404,"message":"No traces found"}}`))
	}))
	t.Cleanup(srv.Close)
	return &jaegerapi.Client{BaseURL: srv.URL}, &queries
}

func TestTrace(t *testing.T) {
	c, _ := jaeger(t)
	id, _ := trace.TraceIDFromHex(traceID)
	tr, err := c.Trace(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	services := tr.Services()
	for _, want := range []string{"xray-tracer-api/prod", "fan-out", "dynamo", "http", "sqs", "sns-publish", "second-topic", "sns-subscribe"} {
		if !services[want] {
			t.Errorf("no span of %s in %v", want, services)
		}
	}
	update := tr.Find("dynamo", "DynamoDB.UpdateItem")
	if len(update) != 1 {
		t.Fatalf("DynamoDB.UpdateItem spans: %+v", update)
	}
	s := update[0]
	if s.Kind != trace.SpanKindClient || s.TraceID != id || !s.ParentID.IsValid() || !s.End.After(s.Start) {
		t.Errorf("UpdateItem span = %+v", s)
	}
	var root int
	ids := map[trace.SpanID]bool{}
	for _, s := range tr.Spans {
		ids[s.SpanID] = true
	}
	for _, s := range tr.Spans {
		if !s.ParentID.IsValid() {
			root++
		} else if !ids[s.ParentID] {
			t.Errorf("%s: %s has a parent outside the trace", s.Service, s.Name)
		}
	}
	if root != 1 {
		t.Errorf("%d roots, want the API's span alone", root)
	}

	var b strings.Builder
	if err := waterfall.Write(&b, tr.ReadOnlySpans()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"trace 1-6b0654dc-263948016aaf5f6354b0527b", "xray-tracer-api/prod: SNS.Publish (client)", "        dynamo: dynamo (server)", "path=/orders/7"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("waterfall lacks %q:\n%s", want, b.String())
		}
	}
}

func TestTraceNotFound(t *testing.T) {
	c, _ := jaeger(t)
	if _, err := c.Trace(t.Context(), trace.TraceID{1}); err != jaegerapi.ErrNotFound {
		t.Errorf("Trace(unknown) error = %v, want ErrNotFound", err)
	}
}

func TestTracesQuery(t *testing.T) {
	c, queries := jaeger(t)
	start := time.Date(2026, 11, 25, 3, 0, 0, 0, time.FixedZone("CET", 3600))
	got, err := c.Traces(t.Context(), jaegerapi.Query{Service: "http", Start: start, End: start.Add(time.Hour), Limit: 5})
	if err != nil || len(got) != 1 {
		t.Fatalf("Traces() = %d traces, %v; want 1", len(got), err)
	}
	// RFC 3339 in UTC, and the required num_traces.
	want := "/api/v3/traces?query.num_traces=5&query.service_name=http&query.start_time_max=2026-11-25T03%3A00%3A00Z&query.start_time_min=2026-11-25T02%3A00%3A00Z"
	if (*queries)[0] != want {
		t.Errorf("query = %s\nwant    %s", (*queries)[0], want)
	}
	none, err := c.Traces(t.Context(), jaegerapi.Query{Service: "nobody", Start: start, End: start})
	if err != nil || len(none) != 0 {
		t.Errorf("Traces(nobody) = %v, %v; want none, no error", none, err)
	}
}
