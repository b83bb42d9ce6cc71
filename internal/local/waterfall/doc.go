// Package waterfall draws traces in a terminal, for the local runner: one
// line per span, indented under its parent, with a bar for when it ran,
// its duration, its annotations, its error and its links.
//
// The runner draws two kinds of trace with it:
//   - a whole trace read back from Jaeger ([Write], with the spans of
//     jaegerapi.Trace.ReadOnlySpans), when a person asks for one;
//   - each function's part of every trace, under OTEL_TRACES_EXPORTER=console:
//     the functions print OpenTelemetry's stdout exporter's JSON, a line per
//     span, and a [Console] on each function's output turns those lines into
//     one waterfall per trace.
//
// It lives with the local tooling, not in otelsetup: a Lambda function has no
// terminal to draw in, and grouping a trace's spans until its root ends would
// hold them in the function's memory. The function writes each span as it
// ends; the runner, which has the memory and the terminal, does the rest.
package waterfall
