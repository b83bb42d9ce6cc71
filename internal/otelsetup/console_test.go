package otelsetup

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TestConsoleWritesEachSpanAsItEnds: OTEL_TRACES_EXPORTER=console writes
// OpenTelemetry's stdout exporter's JSON, one line per span, the moment the
// span ends (no flush needed, nothing held), and nothing after Shutdown.
func TestConsoleWritesEachSpanAsItEnds(t *testing.T) {
	for _, names := range []string{"console", " Console ", "none,console"} {
		t.Run(names, func(t *testing.T) {
			var out bytes.Buffer
			env := map[string]string{"OTEL_TRACES_EXPORTER": names}
			processors, err := processorsFromEnv(context.Background(), func(k string) string { return env[k] }, &out)
			if err != nil || len(processors) != 1 {
				t.Fatalf("processorsFromEnv(%q) = %d processors, %v; want 1", names, len(processors), err)
			}
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(processors[0]))
			tracer := tp.Tracer("test")
			ctx, root := tracer.Start(context.Background(), "invocation")
			_, child := tracer.Start(ctx, "DynamoDB.UpdateItem", trace.WithSpanKind(trace.SpanKindClient))

			child.End()
			lines := consoleLines(t, out.String())
			if len(lines) != 1 || lines[0].Name != "DynamoDB.UpdateItem" || lines[0].SpanKind != int(trace.SpanKindClient) {
				t.Fatalf("after the first span ended: %+v, want it alone", lines)
			}
			root.End()
			lines = consoleLines(t, out.String())
			if len(lines) != 2 || lines[1].Name != "invocation" {
				t.Fatalf("after the root ended: %+v, want it second", lines)
			}
			if lines[0].Parent.SpanID != lines[1].SpanContext.SpanID || lines[0].SpanContext.TraceID != root.SpanContext().TraceID().String() {
				t.Errorf("the child's ids %+v do not name its root %+v", lines[0], lines[1])
			}

			if err := tp.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			_, late := tracer.Start(context.Background(), "late")
			late.End()
			if n := len(consoleLines(t, out.String())); n != 2 {
				t.Errorf("%d lines after a span ended past Shutdown, want still 2", n)
			}
		})
	}
}

// consoleSpan is what the test reads of a line of the stdout exporter.
type consoleSpan struct {
	Name                string
	SpanKind            int
	SpanContext, Parent struct{ TraceID, SpanID string }
}

func consoleLines(t *testing.T, out string) []consoleSpan {
	t.Helper()
	var spans []consoleSpan
	for line := range strings.Lines(out) {
		var s consoleSpan
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("line %q is not a span in JSON: %v", line, err)
		}
		spans = append(spans, s)
	}
	return spans
}
