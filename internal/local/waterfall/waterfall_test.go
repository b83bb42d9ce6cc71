package waterfall

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
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
		Resource:    resource.NewSchemaless(semconv.ServiceName("dynamo")),
	}
	if parent != 0 {
		s.Parent = trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{parent}, Remote: remoteParent})
	}
	return s
}

// consoleOutput is what a function with OTEL_TRACES_EXPORTER=console prints
// for spans: the output of the stdout exporter otelsetup runs, at go.mod's
// version, one export per span as the simple span processor makes them.
func consoleOutput(t *testing.T, stubs ...tracetest.SpanStub) []byte {
	t.Helper()
	var out bytes.Buffer
	e, err := stdouttrace.New(stdouttrace.WithWriter(&out))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range tracetest.SpanStubs(stubs).Snapshots() {
		if err := e.ExportSpans(context.Background(), []sdktrace.ReadOnlySpan{s}); err != nil {
			t.Fatal(err)
		}
	}
	return out.Bytes()
}

// TestConsoleWaterfall feeds a function's console output to a Console in
// pieces that split lines, a log line among the spans, and compares what it
// prints with testdata/waterfall.golden: the trace drawn once its root
// span has ended, the log line as it is, and at Close a trace whose root
// never ended, marked.
func TestConsoleWaterfall(t *testing.T) {
	tid := trace.TraceID{0x67, 0x4a, 0x8c, 0x00, 0x57, 0x59, 0xe9, 0x88, 0xbd, 0x86, 0x2e, 0x3f, 0xe1, 0xbe, 0x46, 0xa9}
	ann := func(keys ...string) attribute.KeyValue { return otelsetup.AnnotationsKey.StringSlice(keys) }
	call := stub("DynamoDB.UpdateItem", tid, 3, 2, false, 2*time.Millisecond, 7*time.Millisecond, trace.SpanKindClient)
	step := stub("DynamoDB Query", tid, 2, 1, false, time.Millisecond, 9*time.Millisecond, trace.SpanKindInternal,
		attribute.String("path", "/orders/42"), attribute.String("table", "Hits"), ann("path"))
	failed := stub("external HTTP Request", tid, 4, 1, false, 10*time.Millisecond, 2*time.Millisecond, trace.SpanKindInternal)
	failed.Status = sdktrace.Status{Code: codes.Error, Description: "simulated failure"}
	root := stub("dynamo", tid, 1, 9, true, 0, 12*time.Millisecond, trace.SpanKindInternal,
		attribute.Bool(otelsetup.ColdStartAnnotation, true), attribute.String(otelsetup.ServiceAnnotation, "dynamo"),
		attribute.Int("attempts", 2), attribute.Float64("ratio", 0.5), attribute.Int64Slice("codes", []int64{500, 200}),
		ann(otelsetup.ColdStartAnnotation, otelsetup.ServiceAnnotation, "attempts", "ratio"))
	orphan := stub("process_message", trace.TraceID{0x67, 0x4a, 0x8c, 0x01}, 5, 6, false, 0, time.Millisecond, trace.SpanKindInternal)
	orphan.Links = []sdktrace.Link{{SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{1}})}}

	var in []byte
	in = append(in, consoleOutput(t, call, step)...)
	in = append(in, "a log line of the handler\n"...)
	in = append(in, consoleOutput(t, failed, orphan, root)...)

	var out bytes.Buffer
	c := NewConsole(&out)
	for chunk := range slices.Chunk(in, 700) {
		if _, err := c.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Contains(out.String(), "process_message") {
		t.Fatalf("drew a trace before its root ended:\n%s", out.String())
	}
	if err := c.Close(); err != nil {
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

// TestConsolePassesOtherLines: what is not a span of the console exporter
// goes through unchanged, a line at a time.
func TestConsolePassesOtherLines(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"log line", "START RequestId: 1\n", "START RequestId: 1\n"},
		{"JSON log", `{"level":"info","msg":"hi"}` + "\n", `{"level":"info","msg":"hi"}` + "\n"},
		{"not quite a span", `{"Name":"x","SpanContext":{"TraceID":"zz"}}` + "\n", `{"Name":"x","SpanContext":{"TraceID":"zz"}}` + "\n"},
		{"broken JSON", `{"Name":"x",` + "\n", `{"Name":"x",` + "\n"},
		{"no newline until Close", "last words", "last words\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			c := NewConsole(&out)
			if _, err := c.Write([]byte(tt.in)); err != nil {
				t.Fatal(err)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("out = %q, want %q", out.String(), tt.want)
			}
		})
	}
}

// TestConsoleBounds: spans of traces whose root never ends, and a line
// that never ends, are not kept past their bounds.
func TestConsoleBounds(t *testing.T) {
	var out bytes.Buffer
	c := NewConsole(&out)
	line := consoleOutput(t, stub("leaf", trace.TraceID{1}, 2, 1, false, 0, time.Millisecond, trace.SpanKindInternal))
	for i := range maxPendingSpans + 1 {
		tid := trace.TraceID{byte(i >> 8), byte(i), 1}
		l := bytes.Replace(line, []byte(`"TraceID":"01000000000000000000000000000000"`), fmt.Appendf(nil, `"TraceID":"%s"`, tid), 2)
		if _, err := c.Write(l); err != nil {
			t.Fatal(err)
		}
	}
	if c.held > maxPendingSpans || len(c.pending) > maxPendingSpans {
		t.Errorf("holding %d spans of %d traces, over the bound %d", c.held, len(c.pending), maxPendingSpans)
	}
	if !bytes.Contains(out.Bytes(), []byte("incomplete")) {
		t.Errorf("the trace pushed out was not drawn as incomplete")
	}

	out.Reset()
	if _, err := c.Write(bytes.Repeat([]byte("x"), maxLine+1)); err != nil {
		t.Fatal(err)
	}
	if len(c.line) != 0 || out.Len() != maxLine+2 {
		t.Errorf("a line past maxLine: kept %d bytes, wrote %d; want it written whole", len(c.line), out.Len())
	}
}

// TestWriteManyServices: a trace read back from Jaeger names each span's
// service.
func TestWriteManyServices(t *testing.T) {
	tid := trace.TraceID{7}
	api := stub("xray-tracer-api/prod", tid, 1, 0, false, 0, 10*time.Millisecond, trace.SpanKindServer)
	api.Resource = resource.NewSchemaless(semconv.ServiceName("xray-tracer-api/prod"))
	fn := stub("dynamo", tid, 2, 1, false, time.Millisecond, 5*time.Millisecond, trace.SpanKindInternal)
	var b strings.Builder
	if err := Write(&b, tracetest.SpanStubs{fn, api}.Snapshots()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"trace 1-07000000-000000000000000000000000  2 spans", "  xray-tracer-api/prod: xray-tracer-api/prod (server)", "    dynamo: dynamo "} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("waterfall lacks %q:\n%s", want, b.String())
		}
	}
}
