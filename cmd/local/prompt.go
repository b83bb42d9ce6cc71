package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/internal/local/waterfall"
)

func (s *stack) printURLs(j jaegerBinary) {
	s.say("")
	s.say("  API        http://%s/  (GET any path: it is published to the fan-out topic)", s.cfg.api)
	switch {
	case !s.cfg.jaeger:
		exporters := os.Getenv("OTEL_TRACES_EXPORTER")
		switch {
		case strings.Contains(exporters, "console"):
			s.say("  traces     each function's part of every trace, drawn here once its invocation ends (OTEL_TRACES_EXPORTER=%s)", exporters)
		case strings.TrimSpace(exporters) == "none":
			s.say("  traces     dropped (OTEL_TRACES_EXPORTER=none); no Jaeger started")
		default:
			s.say("  traces     sent where OTEL_TRACES_EXPORTER=%s says (xrayudp: to AWS_XRAY_DAEMON_ADDRESS, 127.0.0.1:2000 unless set); no Jaeger started", exporters)
		}
	case s.cfg.jaegerURL != "":
		s.say("  Jaeger     %s/  (the Jaeger you run; spans go to its OTLP/HTTP on %s)", s.cfg.jaegerURL, s.cfg.otlp)
	case j.hasUI:
		s.say("  Jaeger UI  http://%s/", s.cfg.jaegerUI)
	default:
		s.say("  Jaeger API http://%s/api/v3/traces/<trace id>", s.cfg.jaegerUI)
		s.say("  The Jaeger built from the Go module has no UI assets: for the UI, set JAEGER_BIN to a Jaeger")
		s.say("  release binary, or JAEGER_UI_ASSETS to a jaeger-ui build. Traces show in the terminal meanwhile:")
		s.say("  type a trace id, or just Enter for the latest request's.")
	}
	if s.store != nil {
		s.say("  X-Ray      http://%s/  (the trace map and traces as the X-Ray console shows them, from the", s.cfg.xrayView)
		s.say("             collector's awsxray exporter on %s; it updates as requests arrive)", s.cfg.collector)
	}
	s.say("  Ctrl-C stops everything.")
	s.say("")
}

// readCommands reads trace ids from stdin and prints their waterfalls.
func (s *stack) readCommands(ctx context.Context, stdin io.Reader) {
	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		var id trace.TraceID
		if line == "" {
			s.mu.Lock()
			for i := len(s.served) - 1; i >= 0; i-- {
				if s.served[i].TraceID.IsValid() {
					id = s.served[i].TraceID
					break
				}
			}
			s.mu.Unlock()
			if !id.IsValid() {
				s.say("no request yet: try curl http://%s/hello", s.cfg.api)
				continue
			}
		} else {
			var err error
			if id, err = parseTraceID(line); err != nil {
				s.say("%q is not a trace id (1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx)", line)
				continue
			}
		}
		if err := s.waterfall(ctx, id); err != nil {
			s.say("%v", err)
		}
	}
}

// parseTraceID reads a trace id in X-Ray's form or as 32 hex digits.
func parseTraceID(s string) (trace.TraceID, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "1-") {
		s = strings.ReplaceAll(s[2:], "-", "")
	}
	return trace.TraceIDFromHex(s)
}

// waterfall prints a request's trace as Jaeger holds it, and the trace of
// its SQS consumer.
func (s *stack) waterfall(ctx context.Context, id trace.TraceID) error {
	if s.jaeger == nil {
		return errors.New("traces are not in Jaeger here (OTEL_TRACES_EXPORTER is not otlp); with console, each function's part of every trace is drawn as its invocation ends")
	}
	// The AWS services' spans of the trace may still be in the runner.
	s.spans.flush()
	ids := []trace.TraceID{id}
	if c, ok := s.consumer(id); ok {
		ids = append(ids, c)
	}
	var b strings.Builder
	for _, id := range ids {
		t, err := s.jaeger.Trace(ctx, id)
		if err != nil {
			return fmt.Errorf("trace %s: %w", waterfall.XRayID(id), err)
		}
		if err := waterfall.Write(&b, t.ReadOnlySpans()); err != nil {
			return err
		}
	}
	s.say("%s", strings.TrimRight(b.String(), "\n"))
	return nil
}
