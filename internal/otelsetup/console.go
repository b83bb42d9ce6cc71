package otelsetup

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// consoleExporter is the exporter OTEL_TRACES_EXPORTER=console selects: it
// prints each trace, once its local root span has ended, as a waterfall tree
// a person can read in a terminal or in CloudWatch Logs: one line per span,
// indented under its parent, with a bar for when it ran, its duration, its
// annotations, and its error.
type consoleExporter struct {
	w io.Writer

	mu      sync.Mutex
	pending map[trace.TraceID][]sdktrace.ReadOnlySpan
	order   []trace.TraceID // first seen first
	stopped bool
}

// maxPendingSpans bounds what the exporter holds for traces whose root has
// not ended yet; past it, the oldest trace is printed as it is.
const maxPendingSpans = 10000

// labelWidth is the least width of the span names' column, in characters.
const labelWidth = 48

// waterfallWidth is the width of the bars, in characters.
const waterfallWidth = 30

func newConsoleExporter(w io.Writer) *consoleExporter {
	return &consoleExporter{w: w, pending: map[trace.TraceID][]sdktrace.ReadOnlySpan{}}
}

func (e *consoleExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		// Shutdown printed what was pending; these would never be.
		return fmt.Errorf("console: exporter is shut down: %d spans not printed", len(spans))
	}
	var done []trace.TraceID
	for _, s := range spans {
		id := s.SpanContext().TraceID()
		if _, ok := e.pending[id]; !ok {
			e.order = append(e.order, id)
		}
		e.pending[id] = append(e.pending[id], s)
		if isLocalRoot(s) {
			done = append(done, id)
		}
	}
	var b strings.Builder
	for _, id := range done {
		writeWaterfall(&b, e.pending[id], false)
		e.forget(id)
	}
	for e.count() > maxPendingSpans {
		writeWaterfall(&b, e.pending[e.order[0]], true)
		e.forget(e.order[0])
	}
	_, err := io.WriteString(e.w, b.String())
	return err
}

// Shutdown prints the traces whose root never ended.
func (e *consoleExporter) Shutdown(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stopped = true
	var b strings.Builder
	for len(e.order) > 0 {
		writeWaterfall(&b, e.pending[e.order[0]], true)
		e.forget(e.order[0])
	}
	_, err := io.WriteString(e.w, b.String())
	return err
}

func (e *consoleExporter) forget(id trace.TraceID) {
	delete(e.pending, id)
	e.order = slices.DeleteFunc(e.order, func(o trace.TraceID) bool { return o == id })
}

func (e *consoleExporter) count() int {
	n := 0
	for _, spans := range e.pending {
		n += len(spans)
	}
	return n
}

// isLocalRoot reports whether s is the first span of its trace in this
// process: it has no parent, or its parent came from elsewhere.
func isLocalRoot(s sdktrace.ReadOnlySpan) bool {
	return !s.Parent().IsValid() || s.Parent().IsRemote()
}

// WriteWaterfall draws the spans of one trace as the console exporter does:
// one line per span, indented under its parent, with a bar for when it ran.
// When the spans come from more than one service (a trace read back from
// Jaeger, say), each line starts with its span's service.name.
func WriteWaterfall(w io.Writer, spans []sdktrace.ReadOnlySpan) error {
	var b strings.Builder
	writeWaterfall(&b, spans, false)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeWaterfall draws one trace.
func writeWaterfall(b *strings.Builder, spans []sdktrace.ReadOnlySpan, incomplete bool) {
	if len(spans) == 0 {
		return
	}
	services := map[string]bool{}
	for _, s := range spans {
		services[serviceName(s)] = true
	}
	multi := len(services) > 1
	ids := map[trace.SpanID]bool{}
	children := map[trace.SpanID][]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		ids[s.SpanContext().SpanID()] = true
	}
	var roots []sdktrace.ReadOnlySpan
	start, end := spans[0].StartTime(), spans[0].EndTime()
	for _, s := range spans {
		if p := s.Parent(); p.IsValid() && ids[p.SpanID()] {
			children[p.SpanID()] = append(children[p.SpanID()], s)
		} else {
			roots = append(roots, s)
		}
		if s.StartTime().Before(start) {
			start = s.StartTime()
		}
		if s.EndTime().After(end) {
			end = s.EndTime()
		}
	}
	total := end.Sub(start)
	tid := spans[0].SpanContext().TraceID().String()
	fmt.Fprintf(b, "trace 1-%s-%s  %d spans, %s", tid[:8], tid[8:], len(spans), formatDuration(total))
	if incomplete {
		b.WriteString("  (incomplete: its root span has not ended)")
	}
	b.WriteString("\n")

	// Labels first, so that the bars line up after the longest.
	type row struct {
		label string
		span  sdktrace.ReadOnlySpan
	}
	var rows []row
	width := labelWidth
	byStart := func(a, c sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(c.StartTime()) }
	var walk func(level int, list []sdktrace.ReadOnlySpan)
	walk = func(level int, list []sdktrace.ReadOnlySpan) {
		slices.SortStableFunc(list, byStart)
		for _, s := range list {
			label := strings.Repeat("  ", level+1)
			if multi {
				label += serviceName(s) + ": "
			}
			label += s.Name()
			if k := s.SpanKind(); k != trace.SpanKindInternal && k != trace.SpanKindUnspecified {
				label += " (" + k.String() + ")"
			}
			width = max(width, utf8.RuneCountInString(label))
			rows = append(rows, row{label, s})
			walk(level+1, children[s.SpanContext().SpanID()])
		}
	}
	walk(0, roots)

	for _, r := range rows {
		s := r.span
		fmt.Fprintf(b, "%-*s %s %9s", width, r.label, bar(s.StartTime().Sub(start), s.EndTime().Sub(s.StartTime()), total), formatDuration(s.EndTime().Sub(s.StartTime())))
		if ann := spanAnnotations(s); ann != "" {
			b.WriteString("  " + ann)
		}
		if st := s.Status(); st.Code == codes.Error {
			b.WriteString("  ERROR: " + st.Description)
		}
		for _, l := range s.Links() {
			lt := l.SpanContext.TraceID().String()
			fmt.Fprintf(b, "  link: 1-%s-%s", lt[:8], lt[8:])
		}
		b.WriteString("\n")
	}
}

func serviceName(s sdktrace.ReadOnlySpan) string {
	if s.Resource() == nil {
		return ""
	}
	v, _ := s.Resource().Set().Value(semconv.ServiceNameKey)
	return v.AsString()
}

// bar draws when a span ran within the trace, waterfallWidth wide.
func bar(offset, length, total time.Duration) string {
	if total <= 0 {
		return "|" + strings.Repeat("█", waterfallWidth) + "|"
	}
	from := int(int64(offset) * waterfallWidth / int64(total))
	n := max(1, int(int64(length)*waterfallWidth/int64(total)))
	from = min(from, waterfallWidth-1)
	n = min(n, waterfallWidth-from)
	return "|" + strings.Repeat(" ", from) + strings.Repeat("█", n) + strings.Repeat(" ", waterfallWidth-from-n) + "|"
}

// spanAnnotations lists the span's annotations as key=value.
func spanAnnotations(s sdktrace.ReadOnlySpan) string {
	attrs := s.Attributes()
	var keys []string
	for _, kv := range attrs {
		if kv.Key == AnnotationsKey {
			keys = kv.Value.AsStringSlice()
		}
	}
	var parts []string
	for _, k := range keys {
		for _, kv := range attrs {
			if string(kv.Key) == k {
				parts = append(parts, k+"="+kv.Value.String())
			}
		}
	}
	return strings.Join(parts, " ")
}

func formatDuration(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%dµs", d.Microseconds())
}
