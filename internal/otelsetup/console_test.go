package otelsetup

import (
	"bytes"
	"context"
	"flag"
	"os"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func stub(name string, tid trace.TraceID, id, parent byte, remoteParent bool, start, dur time.Duration, kind trace.SpanKind, attrs ...attribute.KeyValue) tracetest.SpanStub {
	t0 := time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC)
	s := tracetest.SpanStub{
		Name:        name,
		SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{id}, TraceFlags: trace.FlagsSampled}),
		SpanKind:    kind,
		StartTime:   t0.Add(start),
		EndTime:     t0.Add(start + dur),
		Attributes:  attrs,
	}
	if parent != 0 {
		s.Parent = trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{parent}, Remote: remoteParent})
	}
	return s
}

// TestConsoleWaterfall prints a trace whose spans arrive in two exports, the
// root last, and compares it with testdata/waterfall.golden.
func TestConsoleWaterfall(t *testing.T) {
	tid := trace.TraceID{0x67, 0x4a, 0x8c, 0x00, 0x57, 0x59, 0xe9, 0x88, 0xbd, 0x86, 0x2e, 0x3f, 0xe1, 0xbe, 0x46, 0xa9}
	ann := func(keys ...string) attribute.KeyValue { return AnnotationsKey.StringSlice(keys) }
	call := stub("DynamoDB.UpdateItem", tid, 3, 2, false, 2*time.Millisecond, 7*time.Millisecond, trace.SpanKindClient)
	step := stub("DynamoDB Query", tid, 2, 1, false, time.Millisecond, 9*time.Millisecond, trace.SpanKindInternal,
		attribute.String("path", "/orders/42"), attribute.String("table", "Hits"), ann("path"))
	failed := stub("external HTTP Request", tid, 4, 1, false, 10*time.Millisecond, 2*time.Millisecond, trace.SpanKindInternal)
	failed.Status = sdktrace.Status{Code: codes.Error, Description: "simulated failure"}
	root := stub("dynamo", tid, 1, 9, true, 0, 12*time.Millisecond, trace.SpanKindInternal,
		attribute.Bool(ColdStartAnnotation, true), attribute.String(ServiceAnnotation, "dynamo"), ann(ColdStartAnnotation, ServiceAnnotation))

	var out bytes.Buffer
	e := newConsoleExporter(&out)
	if err := e.ExportSpans(context.Background(), tracetest.SpanStubs{call, step}.Snapshots()); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Fatalf("printed before the root ended:\n%s", out.String())
	}
	if err := e.ExportSpans(context.Background(), tracetest.SpanStubs{failed, root}.Snapshots()); err != nil {
		t.Fatal(err)
	}
	// A second trace whose root never ends is printed at shutdown, marked.
	other := trace.TraceID{0x67, 0x4a, 0x8c, 0x01}
	orphan := stub("process_message", other, 5, 6, false, 0, time.Millisecond, trace.SpanKindInternal)
	if err := e.ExportSpans(context.Background(), tracetest.SpanStubs{orphan}.Snapshots()); err != nil {
		t.Fatal(err)
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	golden := "testdata/waterfall.golden"
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if out.String() != string(want) {
		t.Errorf("waterfall:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestConsoleBoundsPendingSpans(t *testing.T) {
	var out bytes.Buffer
	e := newConsoleExporter(&out)
	var spans tracetest.SpanStubs
	for i := range maxPendingSpans + 1 {
		tid := trace.TraceID{byte(i >> 8), byte(i), 1}
		spans = append(spans, stub("leaf", tid, 2, 1, false, 0, time.Millisecond, trace.SpanKindInternal))
	}
	if err := e.ExportSpans(context.Background(), spans.Snapshots()); err != nil {
		t.Fatal(err)
	}
	if e.count() > maxPendingSpans {
		t.Errorf("holding %d spans, over the bound %d", e.count(), maxPendingSpans)
	}
	if !bytes.Contains(out.Bytes(), []byte("incomplete")) {
		t.Errorf("the trace pushed out was not printed as incomplete")
	}
}
