// Package jaegerapi reads traces back from Jaeger's HTTP API (v3), so that
// the local runner can tell whether a request's trace is complete and draw
// it in the terminal, and the end-to-end test can check what Jaeger holds.
// The API answers in OTLP's JSON encoding
// (https://www.jaegertracing.io/docs/latest/architecture/apis/#http-json).
package jaegerapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Client asks one Jaeger's query service.
type Client struct {
	// BaseURL is the query service, e.g. http://127.0.0.1:16686.
	BaseURL string
	HTTP    *http.Client
}

// Span is one span as Jaeger returns it.
type Span struct {
	Service    string
	Name       string
	TraceID    trace.TraceID
	SpanID     trace.SpanID
	ParentID   trace.SpanID // zero for a root
	Kind       trace.SpanKind
	Start, End time.Time
	Attributes []attribute.KeyValue
	Events     []Event
	Links      []trace.SpanContext
	Error      bool
	Message    string // the status's description
}

// Event is one of a span's events, such as the exception of an error.
type Event struct {
	Name       string
	Attributes []attribute.KeyValue
}

// Trace is the spans of one trace.
type Trace struct {
	ID    trace.TraceID
	Spans []Span
}

// Query selects traces: those with a span of Service that started between
// Start and End; at most Limit of them (Jaeger requires a limit).
type Query struct {
	Service    string
	Start, End time.Time
	Limit      int
}

// ErrNotFound is returned when Jaeger has no such trace.
var ErrNotFound = errors.New("jaeger: trace not found")

// Traces returns the traces that match q.
func (c *Client) Traces(ctx context.Context, q Query) ([]Trace, error) {
	if q.Limit <= 0 {
		q.Limit = 20
	}
	v := url.Values{}
	v.Set("query.service_name", q.Service)
	v.Set("query.start_time_min", q.Start.UTC().Format(time.RFC3339Nano))
	v.Set("query.start_time_max", q.End.UTC().Format(time.RFC3339Nano))
	v.Set("query.num_traces", strconv.Itoa(q.Limit))
	spans, err := c.get(ctx, "/api/v3/traces?"+v.Encode())
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return group(spans), nil
}

// Trace returns one trace.
func (c *Client) Trace(ctx context.Context, id trace.TraceID) (Trace, error) {
	spans, err := c.get(ctx, "/api/v3/traces/"+id.String())
	if err != nil {
		return Trace{}, err
	}
	traces := group(spans)
	if len(traces) == 0 {
		return Trace{}, ErrNotFound
	}
	return traces[0], nil
}

// Services lists the services Jaeger has seen; a quick check that it
// answers.
func (c *Client) Services(ctx context.Context) ([]string, error) {
	body, err := c.fetch(ctx, "/api/v3/services")
	if err != nil {
		return nil, err
	}
	var out struct {
		Services []string `json:"services"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("jaeger: services: %w", err)
	}
	return out.Services, nil
}

func (c *Client) fetch(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL+path, nil)
	if err != nil {
		return nil, err
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jaeger: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("jaeger: read %s: %w", path, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, ErrNotFound
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("jaeger: GET %s: %s: %s", path, resp.Status, body)
	}
	return body, nil
}

// get fetches spans: the answer is one or more {"result": TracesData}
// objects, one after the other.
func (c *Client) get(ctx context.Context, path string) ([]Span, error) {
	body, err := c.fetch(ctx, path)
	if err != nil {
		return nil, err
	}
	var spans []Span
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		var chunk struct {
			Result *tracesData `json:"result"`
			Error  *struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		err := dec.Decode(&chunk)
		if err == io.EOF {
			return spans, nil
		}
		if err != nil {
			return nil, fmt.Errorf("jaeger: decode %s: %w", path, err)
		}
		if chunk.Error != nil {
			// gRPC's NotFound, passed through the HTTP gateway.
			if chunk.Error.Code == 5 {
				return nil, ErrNotFound
			}
			return nil, fmt.Errorf("jaeger: %s: %s", path, chunk.Error.Message)
		}
		if chunk.Result != nil {
			s, err := chunk.Result.spans()
			if err != nil {
				return nil, fmt.Errorf("jaeger: %s: %w", path, err)
			}
			spans = append(spans, s...)
		}
	}
}

// group sorts spans into traces, in the order their first span came.
func group(spans []Span) []Trace {
	var out []Trace
	index := map[trace.TraceID]int{}
	for _, s := range spans {
		i, ok := index[s.TraceID]
		if !ok {
			i = len(out)
			index[s.TraceID] = i
			out = append(out, Trace{ID: s.TraceID})
		}
		out[i].Spans = append(out[i].Spans, s)
	}
	return out
}

// Services are the distinct services of the trace's spans.
func (t Trace) Services() map[string]bool {
	out := map[string]bool{}
	for _, s := range t.Spans {
		out[s.Service] = true
	}
	return out
}

// Find returns the spans of service named name ("" matches any).
func (t Trace) Find(service, name string) []Span {
	var out []Span
	for _, s := range t.Spans {
		if (service == "" || s.Service == service) && (name == "" || s.Name == name) {
			out = append(out, s)
		}
	}
	return out
}

// ReadOnlySpans converts the trace for waterfall.Write.
func (t Trace) ReadOnlySpans() []sdktrace.ReadOnlySpan {
	stubs := make(tracetest.SpanStubs, 0, len(t.Spans))
	for _, s := range t.Spans {
		stub := tracetest.SpanStub{
			Name:        s.Name,
			SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: s.TraceID, SpanID: s.SpanID, TraceFlags: trace.FlagsSampled}),
			SpanKind:    s.Kind,
			StartTime:   s.Start,
			EndTime:     s.End,
			Attributes:  s.Attributes,
			Resource:    resource.NewSchemaless(semconv.ServiceName(s.Service)),
			InstrumentationScope: instrumentation.Scope{
				Name: "jaeger",
			},
		}
		if s.ParentID.IsValid() {
			stub.Parent = trace.NewSpanContext(trace.SpanContextConfig{TraceID: s.TraceID, SpanID: s.ParentID})
		}
		for _, l := range s.Links {
			stub.Links = append(stub.Links, sdktrace.Link{SpanContext: l})
		}
		if s.Error {
			stub.Status = sdktrace.Status{Code: codes.Error, Description: s.Message}
		}
		stubs = append(stubs, stub)
	}
	return stubs.Snapshots()
}
