package otelsetup_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"

	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest"
)

// blackHole is a transport to a collector that takes requests and never
// answers: each request waits until its context ends.
type blackHole struct{}

func (blackHole) RoundTrip(req *http.Request) (*http.Response, error) {
	<-req.Context().Done()
	return nil, req.Context().Err()
}

// errorsSeen collects what OpenTelemetry's error handler is given.
type errorsSeen struct {
	mu   sync.Mutex
	errs []error
}

func (e *errorsSeen) Handle(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.errs = append(e.errs, err)
}

func (e *errorsSeen) all() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]error(nil), e.errs...)
}

func captureErrors(t *testing.T) *errorsSeen {
	seen := &errorsSeen{}
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(seen)
	t.Cleanup(func() { otel.SetErrorHandler(prev) })
	return seen
}

// TestFlushIsBoundedByTimeout proves, on synctest's fake clock, that a
// collector that never answers costs an invocation exactly the flush timeout
// (or what is left of the invocation's deadline less the safety margin, if
// less), and never fails it.
func TestFlushIsBoundedByTimeout(t *testing.T) {
	tests := []struct {
		name     string
		timeout  time.Duration
		deadline time.Duration // of the invocation; 0 for none
		want     time.Duration
	}{
		{"flush timeout", 250 * time.Millisecond, 0, 250 * time.Millisecond},
		{"default flush timeout", 0, 0, otelsetup.DefaultFlushTimeout},
		{"deadline closer than timeout", 2 * time.Second, 400 * time.Millisecond, 400*time.Millisecond - otelsetup.DeadlineMargin},
		{"deadline within the margin", time.Second, 50 * time.Millisecond, 0},
		{"deadline already past", time.Second, -time.Millisecond, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := captureErrors(t)
			// No background export during the test: it would wait on a mutex,
			// which synctest's clock cannot see past, and hang the test
			// instead of failing it if the bound broke.
			t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "3600000")
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				exp, err := otlptracehttp.New(ctx,
					otlptracehttp.WithEndpointURL("http://collector.invalid:4318/v1/traces"),
					otlptracehttp.WithHTTPClient(&http.Client{Transport: blackHole{}}))
				if err != nil {
					t.Fatal(err)
				}
				opts := []otelsetup.Option{otelsetup.WithExporter(exp)}
				if tt.timeout > 0 {
					opts = append(opts, otelsetup.WithFlushTimeout(tt.timeout))
				}
				tr, err := otelsetup.Setup(ctx, opts...)
				if err != nil {
					t.Fatal(err)
				}
				h := otelsetup.Wrap(tr, okHandler)

				invCtx := otelsetuptest.InvocationContext("req-1", ctxHeader)
				if tt.deadline != 0 {
					var cancel context.CancelFunc
					invCtx, cancel = context.WithDeadline(invCtx, time.Now().Add(tt.deadline))
					defer cancel()
				}
				start := time.Now()
				out, err := otelsetuptest.Invoke[string](t, invCtx, h, []byte(`{"Records":[]}`))
				elapsed := time.Since(start)
				if err != nil || out != "done" {
					t.Errorf("handler = %q, %v; want done, nil: a dead collector must not fail the invocation", out, err)
				}
				if elapsed != tt.want {
					t.Errorf("invocation took %v on the fake clock, want the bound %v", elapsed, tt.want)
				}
				shutdownCtx, cancel := context.WithTimeout(ctx, time.Second)
				defer cancel()
				_ = tr.Shutdown(shutdownCtx)
				// Let the processor's own 30 s export timeout end the export
				// still waiting on the black hole (fake time costs nothing).
				time.Sleep(time.Minute)
			})
			if len(seen.all()) == 0 {
				t.Errorf("the failed flush was not reported to the error handler")
			}
		})
	}
}

// TestFlushToBlackHoleEndpoint points the standard OTLP variables at a real
// TCP listener that accepts connections and never answers: the invocation
// still succeeds, and the flush gives up at its bound rather than at the
// exporter's own 10 s timeout.
func TestFlushToBlackHoleEndpoint(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never read
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})

	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+ln.Addr().String())
	seen := captureErrors(t)
	const bound = 300 * time.Millisecond
	tr, err := otelsetup.Setup(context.Background(), otelsetup.WithFlushTimeout(bound))
	if err != nil {
		t.Fatal(err)
	}
	h := otelsetup.Wrap(tr, func(context.Context, events.SNSEvent) (string, error) { return "done", nil })

	start := time.Now()
	out, err := otelsetuptest.Invoke[string](t, otelsetuptest.InvocationContext("req-1", ctxHeader), h, []byte(`{"Records":[]}`))
	elapsed := time.Since(start)
	if err != nil || out != "done" {
		t.Fatalf("handler = %q, %v; want done, nil", out, err)
	}
	// Far below the exporter's 10 s timeout, whatever the machine's load.
	if elapsed > 5*time.Second {
		t.Errorf("invocation took %v with a %v flush bound", elapsed, bound)
	}
	errs := seen.all()
	if len(errs) == 0 || !errors.Is(errs[0], context.DeadlineExceeded) {
		t.Errorf("error handler got %v, want a flush that hit its deadline", errs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	_ = tr.Shutdown(ctx)
}
