package waterfall

import (
	"bytes"
	"io"
	"slices"
	"sync"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Console turns what a function writes to stdout into what a person reads in
// a terminal: the lines that are spans of OTEL_TRACES_EXPORTER=console (JSON,
// one span per line, see decode.go) are kept until the trace's local root
// span ends and then drawn as one waterfall; every other line goes through as
// it is. A function's several sandboxes may write to one Console at once.
//
// What it keeps is bounded: a trace's spans are dropped once drawn; past
// maxPendingSpans, the oldest trace is drawn as it is, marked incomplete; a
// line longer than maxLine goes through in pieces, undecoded.
type Console struct {
	w io.Writer

	mu      sync.Mutex
	line    []byte // the line written so far, without its newline
	pending map[trace.TraceID][]sdktrace.ReadOnlySpan
	order   []trace.TraceID // first seen first
	held    int             // spans in pending
}

const (
	// maxPendingSpans bounds the spans kept for traces whose root has not
	// ended: a few MB, many requests' worth.
	maxPendingSpans = 10000
	// maxLine bounds a line kept until its newline. A span's line is a few
	// kB; one with thousands of attributes may go far past that.
	maxLine = 1 << 20
)

// NewConsole returns a Console that writes whole lines to w.
func NewConsole(w io.Writer) *Console {
	return &Console{w: w, pending: map[trace.TraceID][]sdktrace.ReadOnlySpan{}}
}

// Write takes any part of the output; it handles each line once its newline
// has come.
func (c *Console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out bytes.Buffer
	rest := p
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			c.line = append(c.line, rest...)
			if len(c.line) > maxLine {
				c.pass(&out, c.line)
				c.line = c.line[:0]
			}
			break
		}
		c.line = append(c.line, rest[:i]...)
		c.take(&out, c.line)
		c.line = c.line[:0]
		rest = rest[i+1:]
	}
	if out.Len() == 0 {
		return len(p), nil
	}
	_, err := c.w.Write(out.Bytes())
	return len(p), err
}

// Close draws the traces whose root never ended, and the last line if it
// had no newline.
func (c *Console) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out bytes.Buffer
	if len(c.line) > 0 {
		c.take(&out, c.line)
		c.line = nil
	}
	for len(c.order) > 0 {
		c.drawLocked(&out, c.order[0], true)
	}
	_, err := c.w.Write(out.Bytes())
	return err
}

// take handles one whole line: a span is kept, and its trace drawn if it is
// the trace's local root; anything else goes through.
func (c *Console) take(out *bytes.Buffer, line []byte) {
	s, ok := decodeSpan(line)
	if !ok {
		c.pass(out, line)
		return
	}
	id := s.SpanContext().TraceID()
	if _, ok := c.pending[id]; !ok {
		c.order = append(c.order, id)
	}
	c.pending[id] = append(c.pending[id], s)
	c.held++
	if isLocalRoot(s) {
		c.drawLocked(out, id, false)
	}
	for c.held > maxPendingSpans {
		c.drawLocked(out, c.order[0], true)
	}
}

func (c *Console) pass(out *bytes.Buffer, line []byte) {
	out.Write(line)
	out.WriteByte('\n')
}

// drawLocked draws one trace and forgets it.
func (c *Console) drawLocked(out *bytes.Buffer, id trace.TraceID, incomplete bool) {
	draw(out, c.pending[id], incomplete)
	c.held -= len(c.pending[id])
	delete(c.pending, id)
	c.order = slices.DeleteFunc(c.order, func(o trace.TraceID) bool { return o == id })
}

// isLocalRoot reports whether s is the first span of its trace in the
// function: it has no parent, or its parent came from elsewhere (Lambda's
// trace header).
func isLocalRoot(s sdktrace.ReadOnlySpan) bool {
	return !s.Parent().IsValid() || s.Parent().IsRemote()
}
