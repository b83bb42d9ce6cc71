package otelsetup_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest"
)

// Headers as Lambda passes them with active tracing: Root is the trace,
// Parent the function's own segment.
const (
	ctxHeader = "Root=1-674a8c00-5759e988bd862e3fe1be46a9;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=1:a3f2b1c4:0"
	envHeader = "Root=1-674a8c00-aaaaaaaaaaaaaaaaaaaaaaaa;Parent=1111111111111111;Sampled=1"
)

func readEvent(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../testdata/events/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func okHandler(context.Context, events.SNSEvent) (string, error) { return "done", nil }

func TestWrapContinuesLambdaTraceHeader(t *testing.T) {
	tests := []struct {
		name       string
		ctxHeader  string
		envHeader  string
		wantTrace  string // hex trace ID, "" for a new trace
		wantParent string // hex span ID, "" for no parent
	}{
		{"context value beats environment", ctxHeader, envHeader, "674a8c005759e988bd862e3fe1be46a9", "53995c3f42cd8ad8"},
		{"environment when context has none", "", envHeader, "674a8c00aaaaaaaaaaaaaaaaaaaaaaaa", "1111111111111111"},
		{"no header starts a new trace", "", "", "", ""},
		{"malformed header starts a new trace", "Root=not-a-trace;Parent=zz;Sampled=1", "", "", ""},
		{"header without parent continues its Root", "Root=1-674a8c00-5759e988bd862e3fe1be46a9;Sampled=1", "", "674a8c005759e988bd862e3fe1be46a9", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("_X_AMZN_TRACE_ID", tt.envHeader)
			tr, exp := otelsetuptest.New(t)
			h := otelsetup.Wrap(tr, okHandler)

			before := time.Now()
			out, err := h(otelsetuptest.InvocationContext("req-1", tt.ctxHeader), readEvent(t, "sns-fanout.json"))
			if err != nil || out != "done" {
				t.Fatalf("handler = %q, %v; want done, nil", out, err)
			}
			inv := onlySpan(t, exp.GetSpans())
			if got := inv.SpanContext.TraceID().String(); tt.wantTrace != "" && got != tt.wantTrace {
				t.Errorf("trace ID = %s, want %s", got, tt.wantTrace)
			}
			if tt.wantTrace == "" {
				// A new trace must be one X-Ray accepts: its first 32 bits are
				// the epoch second it started in.
				epoch := int64(inv.SpanContext.TraceID()[0])<<24 | int64(inv.SpanContext.TraceID()[1])<<16 |
					int64(inv.SpanContext.TraceID()[2])<<8 | int64(inv.SpanContext.TraceID()[3])
				if epoch < before.Unix() || epoch > time.Now().Unix() {
					t.Errorf("new trace ID %s does not start with the epoch second", inv.SpanContext.TraceID())
				}
			}
			gotParent := ""
			if inv.Parent.IsValid() {
				gotParent = inv.Parent.SpanID().String()
				if !inv.Parent.IsRemote() {
					t.Errorf("parent is not remote")
				}
			}
			if gotParent != tt.wantParent {
				t.Errorf("parent = %q, want %q", gotParent, tt.wantParent)
			}
		})
	}
}

func TestWrapFollowsLambdaSampledFlag(t *testing.T) {
	tr, exp := otelsetuptest.New(t)
	var inner trace.SpanContext
	h := otelsetup.Wrap(tr, func(ctx context.Context, _ events.SNSEvent) (string, error) {
		inner = trace.SpanContextFromContext(ctx)
		return "", nil
	})
	header := strings.Replace(ctxHeader, "Sampled=1", "Sampled=0", 1)
	if _, err := h(otelsetuptest.InvocationContext("req-1", header), readEvent(t, "sns-fanout.json")); err != nil {
		t.Fatal(err)
	}
	if n := len(exp.GetSpans()); n != 0 {
		t.Errorf("exported %d spans of an unsampled invocation, want 0", n)
	}
	// The context still carries the trace, so calls downstream say Sampled=0.
	if inner.TraceID().String() != "674a8c005759e988bd862e3fe1be46a9" || inner.IsSampled() {
		t.Errorf("handler's span context = %v sampled=%v, want the header's trace, unsampled", inner.TraceID(), inner.IsSampled())
	}
}

func TestWrapRecordsInvocation(t *testing.T) {
	t.Setenv("OTEL_SERVICE_NAME", "orders")
	tr, exp := otelsetuptest.New(t)
	h := otelsetup.Wrap(tr, okHandler)

	for i, wantCold := range []bool{true, false, false} {
		exp.Reset()
		if _, err := h(otelsetuptest.InvocationContext("req-"+string(rune('a'+i)), ctxHeader), readEvent(t, "sns-fanout.json")); err != nil {
			t.Fatal(err)
		}
		inv := onlySpan(t, exp.GetSpans())
		if inv.SpanKind != trace.SpanKindInternal {
			t.Errorf("invocation %d: kind = %v, want internal (a subsegment of the function's segment)", i, inv.SpanKind)
		}
		want := map[string]any{
			"faas.coldstart":     wantCold,
			"faas.trigger":       "pubsub",
			"faas.invocation_id": "req-" + string(rune('a'+i)),
			"cloud.account.id":   "123456789012",
			"cloud.resource_id":  otelsetuptest.FunctionARN,
		}
		for key, v := range want {
			got, ok := otelsetuptest.Attr(inv, key)
			if !ok || got.AsInterface() != v {
				t.Errorf("invocation %d: %s = %v, want %v", i, key, got.AsInterface(), v)
			}
		}
		wantAnn := map[string]any{"cold_start": wantCold, "service": "orders"}
		if got := otelsetuptest.Annotations(inv); !equalMaps(got, wantAnn) {
			t.Errorf("invocation %d: annotations = %v, want %v", i, got, wantAnn)
		}
		if inv.Status.Code == codes.Error {
			t.Errorf("invocation %d: status error on success", i)
		}
	}
}

func TestWrapRecordsFailures(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name      string
		handler   func(context.Context, events.SNSEvent) (string, error)
		payload   string
		wantErr   string
		wantPanic bool
	}{
		{
			name:    "returned error",
			handler: func(context.Context, events.SNSEvent) (string, error) { return "", errBoom },
			payload: `{"Records":[]}`,
			wantErr: "boom",
		},
		{
			name:    "malformed event",
			handler: okHandler,
			payload: `{"Records": "not a list"}`,
			wantErr: "decode events.SNSEvent event",
		},
		{
			name:    "not JSON",
			handler: okHandler,
			payload: `{"Records": [`,
			wantErr: "decode events.SNSEvent event",
		},
		{
			name:      "panic",
			handler:   func(context.Context, events.SNSEvent) (string, error) { panic("kaput") },
			payload:   `{}`,
			wantErr:   "panic: kaput",
			wantPanic: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, exp := otelsetuptest.New(t)
			h := otelsetup.Wrap(tr, tt.handler)

			var recovered any
			var err error
			func() {
				defer func() { recovered = recover() }()
				_, err = h(otelsetuptest.InvocationContext("req-1", ctxHeader), []byte(tt.payload))
			}()
			if (recovered != nil) != tt.wantPanic {
				t.Fatalf("recovered %v, want panic %v", recovered, tt.wantPanic)
			}
			if !tt.wantPanic && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
			// The span was flushed before the handler returned or panicked on.
			inv := onlySpan(t, exp.GetSpans())
			if inv.Status.Code != codes.Error || !strings.Contains(inv.Status.Description, tt.wantErr) {
				t.Errorf("status = %v %q, want error containing %q", inv.Status.Code, inv.Status.Description, tt.wantErr)
			}
			assertException(t, inv, tt.wantErr)
		})
	}
}

// assertException checks that s has an exception event with msg and a Go stack.
func assertException(t *testing.T, s tracetest.SpanStub, msg string) {
	t.Helper()
	for _, ev := range s.Events {
		if ev.Name != "exception" {
			continue
		}
		var gotMsg, stack string
		for _, kv := range ev.Attributes {
			switch kv.Key {
			case "exception.message":
				gotMsg = kv.Value.AsString()
			case "exception.stacktrace":
				stack = kv.Value.AsString()
			}
		}
		if !strings.Contains(gotMsg, msg) {
			t.Errorf("exception.message = %q, want it to contain %q", gotMsg, msg)
		}
		if !strings.Contains(stack, "goroutine") || !strings.Contains(stack, ".go:") {
			t.Errorf("exception.stacktrace is not a Go stack: %q", stack)
		}
		return
	}
	t.Errorf("span %q has no exception event", s.Name)
}

func onlySpan(t *testing.T, spans tracetest.SpanStubs) tracetest.SpanStub {
	t.Helper()
	if len(spans) != 1 {
		t.Fatalf("got %d spans, want 1", len(spans))
	}
	return spans[0]
}

func equalMaps(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
