package jaegerapi

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

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
