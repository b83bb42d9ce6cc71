package waterfall

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

// labelWidth is the least width of the span names' column, in characters.
const labelWidth = 48

// barWidth is the width of the bars, in characters.
const barWidth = 30

// Write draws the spans of one trace: one line per span, indented under its
// parent, with a bar for when it ran, its duration, its annotations, its
// error and its links. When the spans come from more than one service (a
// trace read back from Jaeger, say), each line starts with its span's
// service.name.
func Write(w io.Writer, spans []sdktrace.ReadOnlySpan) error {
	var b bytes.Buffer
	draw(&b, spans, false)
	_, err := w.Write(b.Bytes())
	return err
}

// XRayID writes a trace id as X-Ray shows it: 1-<8 hex>-<24 hex>.
func XRayID(id trace.TraceID) string {
	h := id.String()
	return "1-" + h[:8] + "-" + h[8:]
}

// draw draws one trace; an incomplete one says that its root span has
// not ended.
func draw(b *bytes.Buffer, spans []sdktrace.ReadOnlySpan, incomplete bool) {
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
	fmt.Fprintf(b, "trace %s  %d spans, %s", XRayID(spans[0].SpanContext().TraceID()), len(spans), formatDuration(total))
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
			b.WriteString("  link: " + XRayID(l.SpanContext.TraceID()))
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

// bar draws when a span ran within the trace, barWidth wide.
func bar(offset, length, total time.Duration) string {
	if total <= 0 {
		return "|" + strings.Repeat("█", barWidth) + "|"
	}
	from := int(int64(offset) * barWidth / int64(total))
	n := max(1, int(int64(length)*barWidth/int64(total)))
	from = min(from, barWidth-1)
	n = min(n, barWidth-from)
	return "|" + strings.Repeat(" ", from) + strings.Repeat("█", n) + strings.Repeat(" ", barWidth-from-n) + "|"
}

// spanAnnotations lists the span's annotations as key=value.
func spanAnnotations(s sdktrace.ReadOnlySpan) string {
	attrs := s.Attributes()
	var keys []string
	for _, kv := range attrs {
		if kv.Key == otelsetup.AnnotationsKey {
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
