// Package jaegerapi reads traces back from Jaeger's HTTP API (v3), so that
// the local runner can tell whether a request's trace is complete and draw
// it in the terminal, and the end-to-end test can check what Jaeger holds.
// The API answers in OTLP's JSON encoding
// (https://www.jaegertracing.io/docs/latest/architecture/apis/#http-json).
package jaegerapi

import (
	"bytes"
	"context"
	"encoding/hex"
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

// The OTLP JSON encoding, as much of it as the runner reads
// (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding): ids
// in hex, 64-bit integers as strings, enums as numbers.
type tracesData struct {
	ResourceSpans []struct {
		Resource struct {
			Attributes []keyValue `json:"attributes"`
		} `json:"resource"`
		ScopeSpans []struct {
			Spans []otlpSpan `json:"spans"`
		} `json:"scopeSpans"`
	} `json:"resourceSpans"`
}

type otlpSpan struct {
	TraceID      string     `json:"traceId"`
	SpanID       string     `json:"spanId"`
	ParentSpanID string     `json:"parentSpanId"`
	Name         string     `json:"name"`
	Kind         int        `json:"kind"`
	Start        string     `json:"startTimeUnixNano"`
	End          string     `json:"endTimeUnixNano"`
	Attributes   []keyValue `json:"attributes"`
	Events       []struct {
		Name       string     `json:"name"`
		Attributes []keyValue `json:"attributes"`
	} `json:"events"`
	Links []struct {
		TraceID string `json:"traceId"`
		SpanID  string `json:"spanId"`
	} `json:"links"`
	Status struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"status"`
}

type keyValue struct {
	Key   string   `json:"key"`
	Value anyValue `json:"value"`
}

type anyValue struct {
	String *string  `json:"stringValue"`
	Bool   *bool    `json:"boolValue"`
	Int    *string  `json:"intValue"`
	Double *float64 `json:"doubleValue"`
	Array  *struct {
		Values []anyValue `json:"values"`
	} `json:"arrayValue"`
}

func (d *tracesData) spans() ([]Span, error) {
	var out []Span
	for _, rs := range d.ResourceSpans {
		service := ""
		for _, kv := range rs.Resource.Attributes {
			if kv.Key == string(semconv.ServiceNameKey) && kv.Value.String != nil {
				service = *kv.Value.String
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, o := range ss.Spans {
				s, err := o.convert(service)
				if err != nil {
					return nil, err
				}
				out = append(out, s)
			}
		}
	}
	return out, nil
}

func (o otlpSpan) convert(service string) (Span, error) {
	s := Span{Service: service, Name: o.Name, Kind: kind(o.Kind), Error: o.Status.Code == 2, Message: o.Status.Message}
	var err error
	if s.TraceID, err = traceID(o.TraceID); err != nil {
		return Span{}, err
	}
	if s.SpanID, err = spanID(o.SpanID); err != nil {
		return Span{}, err
	}
	if o.ParentSpanID != "" {
		if s.ParentID, err = spanID(o.ParentSpanID); err != nil {
			return Span{}, err
		}
	}
	if s.Start, err = unixNano(o.Start); err != nil {
		return Span{}, err
	}
	if s.End, err = unixNano(o.End); err != nil {
		return Span{}, err
	}
	for _, kv := range o.Attributes {
		s.Attributes = append(s.Attributes, kv.attribute())
	}
	for _, e := range o.Events {
		ev := Event{Name: e.Name}
		for _, kv := range e.Attributes {
			ev.Attributes = append(ev.Attributes, kv.attribute())
		}
		s.Events = append(s.Events, ev)
	}
	for _, l := range o.Links {
		tid, err1 := traceID(l.TraceID)
		sid, err2 := spanID(l.SpanID)
		if err := errors.Join(err1, err2); err != nil {
			return Span{}, fmt.Errorf("link: %w", err)
		}
		s.Links = append(s.Links, trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))
	}
	return s, nil
}

func (kv keyValue) attribute() attribute.KeyValue {
	k := attribute.Key(kv.Key)
	v := kv.Value
	switch {
	case v.String != nil:
		return k.String(*v.String)
	case v.Bool != nil:
		return k.Bool(*v.Bool)
	case v.Int != nil:
		n, _ := strconv.ParseInt(*v.Int, 10, 64)
		return k.Int64(n)
	case v.Double != nil:
		return k.Float64(*v.Double)
	case v.Array != nil:
		// Span attributes' arrays hold one type; the runner reads string
		// arrays (aws.xray.annotations).
		var ss []string
		for _, e := range v.Array.Values {
			if e.String != nil {
				ss = append(ss, *e.String)
			}
		}
		return k.StringSlice(ss)
	}
	return k.String("")
}

// kind maps OTLP's SpanKind (1 internal … 5 consumer) to the API's.
func kind(k int) trace.SpanKind {
	switch k {
	case 1:
		return trace.SpanKindInternal
	case 2:
		return trace.SpanKindServer
	case 3:
		return trace.SpanKindClient
	case 4:
		return trace.SpanKindProducer
	case 5:
		return trace.SpanKindConsumer
	}
	return trace.SpanKindUnspecified
}

func traceID(s string) (trace.TraceID, error) {
	var id trace.TraceID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("trace id %q: not 32 hex digits", s)
	}
	copy(id[:], b)
	return id, nil
}

func spanID(s string) (trace.SpanID, error) {
	var id trace.SpanID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("span id %q: not 16 hex digits", s)
	}
	copy(id[:], b)
	return id, nil
}

func unixNano(s string) (time.Time, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: %w", s, err)
	}
	return time.Unix(0, n), nil
}
