package otelsetup

import (
	"fmt"
	"io"

	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// newConsoleProcessor is what OTEL_TRACES_EXPORTER=console selects:
// OpenTelemetry Go's own stdout exporter, so the output is what users of
// OpenTelemetry know (and what tools that read it expect), not a format of
// this package.
//
// Each span is written as one line of JSON: in Lambda every line of stdout
// becomes one CloudWatch Logs event, and an indented span would be scattered
// over dozens. Each span is written as it ends, by a simple span processor,
// as the specification asks of a console exporter chosen by
// OTEL_TRACES_EXPORTER
// (https://opentelemetry.io/docs/specs/otel/trace/sdk_exporters/stdout/):
// nothing is held once the span is written, nothing waits for the
// invocation's flush, and the spans of an invocation that times out are
// already out.
func newConsoleProcessor(w io.Writer) (sdktrace.SpanProcessor, error) {
	e, err := stdouttrace.New(stdouttrace.WithWriter(w))
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	return sdktrace.NewSimpleSpanProcessor(e), nil
}
