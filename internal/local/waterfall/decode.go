package waterfall

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// stdoutSpan is a span as OpenTelemetry Go's stdout exporter (stdouttrace,
// what OTEL_TRACES_EXPORTER=console runs) writes it: tracetest.SpanStub
// through encoding/json, one object per line. Only what a waterfall shows is
// read. The format is the exporter's own, not a standard one, so the tests
// decode what the exporter of go.mod's version writes.
type stdoutSpan struct {
	Name        string
	SpanContext stdoutSpanContext
	Parent      stdoutSpanContext
	SpanKind    trace.SpanKind
	StartTime   time.Time
	EndTime     time.Time
	Attributes  []stdoutKeyValue
	Links       []struct{ SpanContext stdoutSpanContext }
	Status      struct{ Code, Description string }
	Resource    []stdoutKeyValue
}

type stdoutSpanContext struct {
	TraceID, SpanID string
	Remote          bool
}

// stdoutKeyValue is attribute.KeyValue's JSON: the value's type by name and
// the value itself.
type stdoutKeyValue struct {
	Key   string
	Value struct {
		Type  string
		Value json.RawMessage
	}
}

// decodeSpan reads one line of the console exporter's output; ok is false
// for any other line (a function's own logs, say).
func decodeSpan(line []byte) (_ sdktrace.ReadOnlySpan, ok bool) {
	// A cheap test first: most lines a function prints are not spans.
	if !bytes.HasPrefix(line, []byte(`{"Name":`)) {
		return nil, false
	}
	var s stdoutSpan
	if err := json.Unmarshal(line, &s); err != nil {
		return nil, false
	}
	sc, err := s.SpanContext.decode()
	if err != nil || !sc.IsValid() {
		return nil, false
	}
	stub := tracetest.SpanStub{
		Name:        s.Name,
		SpanContext: sc,
		SpanKind:    s.SpanKind,
		StartTime:   s.StartTime,
		EndTime:     s.EndTime,
		Attributes:  attributes(s.Attributes),
		Resource:    resource.NewSchemaless(attributes(s.Resource)...),
	}
	// A root span's parent is all zeros: not valid, so not a parent.
	stub.Parent, _ = s.Parent.decode()
	for _, l := range s.Links {
		if lc, err := l.SpanContext.decode(); err == nil {
			stub.Links = append(stub.Links, sdktrace.Link{SpanContext: lc})
		}
	}
	if s.Status.Code == codes.Error.String() {
		stub.Status = sdktrace.Status{Code: codes.Error, Description: s.Status.Description}
	}
	return stub.Snapshot(), true
}

func (c stdoutSpanContext) decode() (trace.SpanContext, error) {
	tid, err := trace.TraceIDFromHex(c.TraceID)
	if err != nil {
		return trace.SpanContext{}, err
	}
	sid, err := trace.SpanIDFromHex(c.SpanID)
	if err != nil {
		return trace.SpanContext{}, err
	}
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: c.Remote}), nil
}

// attributes converts what a waterfall shows of each type (annotations are
// strings, numbers and bools; their keys a string slice); values of any
// other type are kept as their JSON text.
func attributes(kvs []stdoutKeyValue) []attribute.KeyValue {
	out := make([]attribute.KeyValue, 0, len(kvs))
	for _, kv := range kvs {
		k, raw := attribute.Key(kv.Key), kv.Value.Value
		var (
			a   attribute.KeyValue
			err error
		)
		switch kv.Value.Type {
		case attribute.STRING.String():
			var v string
			err = json.Unmarshal(raw, &v)
			a = k.String(v)
		case attribute.BOOL.String():
			var v bool
			err = json.Unmarshal(raw, &v)
			a = k.Bool(v)
		case attribute.INT64.String():
			var v int64
			err = json.Unmarshal(raw, &v)
			a = k.Int64(v)
		case attribute.FLOAT64.String():
			var v float64
			err = json.Unmarshal(raw, &v)
			a = k.Float64(v)
		case attribute.STRINGSLICE.String():
			var v []string
			err = json.Unmarshal(raw, &v)
			a = k.StringSlice(v)
		default:
			a = k.String(strings.TrimSpace(string(raw)))
		}
		if err != nil {
			a = k.String(string(raw))
		}
		out = append(out, a)
	}
	return out
}
