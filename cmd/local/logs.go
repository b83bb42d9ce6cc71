package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xray-tracer/xray-tracer/internal/local/waterfall"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

// logRequests prints a line per request the API answers (but under -load,
// where thousands would scroll by) and keeps it for the summary.
func (s *stack) logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		h.ServeHTTP(rec, r)
		req := request{Method: r.Method, Path: r.URL.Path, Status: rec.status, Took: time.Since(start)}
		traceLabel := "not traced"
		if header := rec.Header().Get("X-Amzn-Trace-Id"); header != "" {
			if link, ok := otelsetup.LinkFromTraceHeader(header); ok {
				req.TraceID = link.SpanContext.TraceID()
				traceLabel = "trace " + waterfall.XRayID(req.TraceID)
			}
		}
		s.mu.Lock()
		s.served = append(s.served, req)
		s.mu.Unlock()
		if s.cfg.load.requests > 0 {
			return
		}
		path := req.Path
		if len(path) > 60 {
			path = path[:57] + "..."
		}
		s.say("%s %s → %d in %v, %s", r.Method, path, rec.status, req.Took.Round(100*time.Microsecond), traceLabel)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

// warnings shows the runner's warnings (and worse) on the terminal; every
// record also goes to runner.log.
type warnings struct{ say func(string, ...any) }

func (w warnings) Write(b []byte) (int, error) {
	line := strings.TrimSpace(string(b))
	if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
		w.say("  %s", line)
	}
	return len(b), nil
}

// functionOutput is where what the functions print goes: the terminal, but
// under -load, where the http function's deliberate failures would scroll
// by in thousands, the file functions.log.
func (s *stack) functionOutput() (io.Writer, error) {
	if s.cfg.load.requests == 0 {
		return s.cfg.stdout, nil
	}
	f, err := os.Create(filepath.Join(s.dir, "functions.log"))
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, f)
	return f, nil
}

// prefixed writes what a function prints to w, each line after the
// function's name. It gets whole lines: a waterfall.Console comes first.
func prefixed(w io.Writer, name string) io.Writer {
	return &prefixWriter{w: w, prefix: fmt.Sprintf("%13s | ", name)}
}

type prefixWriter struct {
	w      io.Writer
	prefix string
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	var out strings.Builder
	for line := range strings.Lines(string(b)) {
		out.WriteString(p.prefix + line)
	}
	if _, err := io.WriteString(p.w, out.String()); err != nil {
		return 0, err
	}
	return len(b), nil
}
