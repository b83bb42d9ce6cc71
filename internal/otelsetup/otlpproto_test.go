package otelsetup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// sampleSpans records spans that use every part of the message: each
// attribute type, events, links with trace state, error and OK statuses,
// remote and local parents, two scopes (one with a version, attributes and
// a schema URL), a resource with a schema URL, and long values.
func sampleSpans(t *testing.T) []sdktrace.ReadOnlySpan {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	res := resource.NewWithAttributes("https://opentelemetry.io/schemas/1.26.0",
		attribute.String("service.name", "orders"), attribute.Int("faas.max_memory", 128<<20))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(res))
	defer func() { _ = tp.Shutdown(context.Background()) }()

	ts, _ := trace.ParseTraceState("vendor=value,other=x")
	remote := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6}, TraceFlags: trace.FlagsSampled, Remote: true, TraceState: ts,
	})
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), remote)
	a := tp.Tracer("a")
	b := tp.Tracer("b", trace.WithInstrumentationVersion("1.2.3"), trace.WithSchemaURL("https://example.test/schema"),
		trace.WithInstrumentationAttributes(attribute.String("scope.attr", "s")))

	ctx, root := a.Start(ctx, "invocation", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithLinks(trace.Link{SpanContext: remote, Attributes: []attribute.KeyValue{attribute.String("link.kind", "sender")}}))
	root.SetAttributes(
		attribute.Bool("b", true), attribute.Bool("f", false), attribute.Int64("i", -42), attribute.Int("zero", 0),
		attribute.Float64("pi", 3.14159), attribute.String("s", "text"), attribute.String("empty", ""),
		attribute.BoolSlice("bs", []bool{true, false}), attribute.Int64Slice("is", []int64{1, -2, 3}),
		attribute.Float64Slice("fs", []float64{0.5, -1}), attribute.StringSlice("ss", []string{"x", "", "y"}),
		attribute.String("long", strings.Repeat("v", 300)),
		attribute.KeyValue{Key: "bytes", Value: attribute.ByteSliceValue([]byte{0, 1, 2})},
		attribute.KeyValue{Key: "nothing"},
		attribute.KeyValue{Key: "mixed", Value: attribute.SliceValue(attribute.IntValue(1), attribute.StringValue("two"), attribute.SliceValue(attribute.BoolValue(true)))},
		attribute.KeyValue{Key: "map", Value: attribute.MapValue(attribute.String("k", "v"), attribute.Int("n", 2))},
	)
	root.AddEvent("checkpoint", trace.WithAttributes(attribute.Int("n", 7)))
	_, child := b.Start(ctx, "DynamoDB.UpdateItem", trace.WithSpanKind(trace.SpanKindClient))
	child.RecordError(errors.New("boom"))
	child.SetStatus(codes.Error, "boom")
	child.End()
	_, ok := a.Start(ctx, "ok", trace.WithSpanKind(trace.SpanKindProducer))
	ok.SetStatus(codes.Ok, "")
	ok.End()
	for i := range 3 {
		_, s := a.Start(ctx, fmt.Sprint("step ", i), trace.WithSpanKind(trace.SpanKindConsumer))
		s.End()
	}
	root.End()
	return exp.GetSpans().Snapshots()
}

// upstream is what the upstream OTLP/HTTP exporter sends for spans.
func upstream(t *testing.T, spans []sdktrace.ReadOnlySpan) []byte {
	t.Helper()
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer srv.Close()
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(srv.URL+"/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.ExportSpans(context.Background(), spans); err != nil {
		t.Fatal(err)
	}
	_ = exp.Shutdown(context.Background())
	return body
}

// flat is one span with its resource and scope, for comparing requests
// whatever their grouping.
type flat struct {
	resource  *resourcepb.Resource
	resURL    string
	scope     *commonpb.InstrumentationScope
	scopeURL  string
	span      *tracepb.Span
	sortingID string
}

func flatten(t *testing.T, body []byte) []flat {
	t.Helper()
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		t.Fatalf("not an ExportTraceServiceRequest: %v", err)
	}
	var out []flat
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				out = append(out, flat{rs.Resource, rs.SchemaUrl, ss.Scope, ss.SchemaUrl, s, fmt.Sprintf("%x", s.SpanId)})
			}
		}
	}
	slices.SortFunc(out, func(a, b flat) int { return strings.Compare(a.sortingID, b.sortingID) })
	return out
}

// TestEncodingMatchesUpstream: the hand-written encoding says exactly what
// the upstream exporter's generated code says, span by span.
func TestEncodingMatchesUpstream(t *testing.T) {
	spans := sampleSpans(t)
	ours := appendRequest(nil, group(encodeSpans(spans)))
	got, want := flatten(t, ours), flatten(t, upstream(t, spans))
	if len(got) != len(want) || len(got) != len(spans) {
		t.Fatalf("%d spans encoded, upstream %d, recorded %d", len(got), len(want), len(spans))
	}
	for i := range want {
		g, w := got[i], want[i]
		name := w.span.Name
		// The upstream exporter leaves out a link's trace state, which
		// the Link message has a field for; this encoder keeps it.
		for j, l := range g.span.Links {
			if l.TraceState != "vendor=value,other=x" {
				t.Errorf("span %q link %d: trace state %q", name, j, l.TraceState)
			}
			l.TraceState = ""
		}
		if !proto.Equal(g.span, w.span) {
			t.Errorf("span %q differs:\n ours     %v\n upstream %v", name, g.span, w.span)
		}
		if !proto.Equal(g.resource, w.resource) || g.resURL != w.resURL {
			t.Errorf("span %q: resource %v (%s), upstream %v (%s)", name, g.resource, g.resURL, w.resource, w.resURL)
		}
		if !proto.Equal(g.scope, w.scope) || g.scopeURL != w.scopeURL {
			t.Errorf("span %q: scope %v (%s), upstream %v (%s)", name, g.scope, g.scopeURL, w.scope, w.scopeURL)
		}
	}
}

// TestEncodingGroups: one ResourceSpans per resource, one ScopeSpans per
// scope, spans in their order.
func TestEncodingGroups(t *testing.T) {
	spans := sampleSpans(t)
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(appendRequest(nil, group(encodeSpans(spans))), &req); err != nil {
		t.Fatal(err)
	}
	if len(req.ResourceSpans) != 1 || len(req.ResourceSpans[0].ScopeSpans) != 2 {
		t.Fatalf("%d resources; want 1 with 2 scopes: %v", len(req.ResourceSpans), &req)
	}
	// Scopes in the order their first span ended (b's client span first).
	var got [][]string
	for _, ss := range req.ResourceSpans[0].ScopeSpans {
		var names []string
		for _, s := range ss.Spans {
			names = append(names, s.Name)
		}
		got = append(got, append([]string{ss.Scope.Name + ":"}, names...))
	}
	want := [][]string{{"b:", "DynamoDB.UpdateItem"}, {"a:", "ok", "step 0", "step 1", "step 2", "invocation"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("scopes and spans %v, want %v", got, want)
	}
}

// TestEndMovesLongBodies: a message longer than 127 bytes needs a longer
// length, and its body moves to make room.
func TestEndMovesLongBodies(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 300, 16383, 16384, 70000} {
		b, start := begin([]byte("prefix"), fAnyString)
		b = append(b, bytes.Repeat([]byte{'x'}, n)...)
		b = end(b, start)
		want := appendString([]byte("prefix"), fAnyString, strings.Repeat("x", n))
		if !bytes.Equal(b, want) {
			t.Errorf("length %d: encoded %d bytes, want %d", n, len(b), len(want))
		}
	}
}
