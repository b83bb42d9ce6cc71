package otelsetup_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
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
	return otelsetuptest.ReadEvent(t, name)
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
			out, err := otelsetuptest.Invoke[string](t, otelsetuptest.InvocationContext("req-1", tt.ctxHeader), h, readEvent(t, "sns-fanout.json"))
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
	if _, err := h.Invoke(otelsetuptest.InvocationContext("req-1", header), readEvent(t, "sns-fanout.json")); err != nil {
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
		if _, err := h.Invoke(otelsetuptest.InvocationContext("req-"+string(rune('a'+i)), ctxHeader), readEvent(t, "sns-fanout.json")); err != nil {
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
		// Named as Powertools names them, so that one filter expression
		// (annotation.ColdStart = true) finds functions in every language.
		wantAnn := map[string]any{"ColdStart": wantCold, "Service": "orders"}
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
				_, err = h.Invoke(otelsetuptest.InvocationContext("req-1", ctxHeader), []byte(tt.payload))
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

// testEvent reads a payload of testdata/events: among them what a misconfigured event
// source, a hand-made test event or a truncated message sends.
func testEvent(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/events/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// exception returns the attributes of s's exception event.
func exception(t *testing.T, s tracetest.SpanStub) (typ, msg, stack string) {
	t.Helper()
	for _, ev := range s.Events {
		if ev.Name != "exception" {
			continue
		}
		for _, kv := range ev.Attributes {
			switch kv.Key {
			case "exception.type":
				typ = kv.Value.AsString()
			case "exception.message":
				msg = kv.Value.AsString()
			case "exception.stacktrace":
				stack = kv.Value.AsString()
			}
		}
		return typ, msg, stack
	}
	t.Fatalf("span %q has no exception event", s.Name)
	return "", "", ""
}

// TestWrapTracesUndecodableEvents: aws-lambda-go hands the wrapper the raw
// payload, so an event that does not decode into the handler's type still
// leaves the invocation span, with the decode error on it, and the error is
// returned to Lambda.
func TestWrapTracesUndecodableEvents(t *testing.T) {
	strict := []lambda.Option{lambda.WithDisallowUnknownFields(true)}
	numbers := []lambda.Option{lambda.WithUseNumber(true)}
	tests := []struct {
		name    string
		file    string
		opts    []lambda.Option
		wantErr bool
	}{
		{"truncated JSON", "truncated.json", nil, true},
		{"empty payload", "empty.json", nil, true},
		{"random bytes", "random.bin", nil, true},
		{"wrong shape", "wrong-shape.json", nil, true},
		{"unknown field allowed by default", "unknown-field.json", nil, false},
		{"truncated JSON, strict", "truncated.json", strict, true},
		{"empty payload, strict", "empty.json", strict, true},
		{"random bytes, strict", "random.bin", strict, true},
		{"wrong shape, strict", "wrong-shape.json", strict, true},
		{"unknown field, strict", "unknown-field.json", strict, true},
		{"truncated JSON, numbers", "truncated.json", numbers, true},
		{"empty payload, numbers", "empty.json", numbers, true},
		{"random bytes, numbers", "random.bin", numbers, true},
		{"wrong shape, numbers", "wrong-shape.json", numbers, true},
		{"unknown field, numbers", "unknown-field.json", numbers, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, exp := otelsetuptest.New(t)
			_, err := otelsetuptest.Invoke[string](t, otelsetuptest.InvocationContext("req-1", ctxHeader),
				otelsetup.Wrap(tr, okHandler, tt.opts...), testEvent(t, tt.file))
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			spans := exp.GetSpans()
			if len(spans) != 1 {
				t.Fatalf("got %d spans, want the invocation span", len(spans))
			}
			inv := spans[0]
			if !tt.wantErr {
				if inv.Status.Code == codes.Error {
					t.Errorf("status error on an event that decodes: %q", inv.Status.Description)
				}
				return
			}
			var decodeErr *otelsetup.DecodeError
			if !errors.As(err, &decodeErr) || decodeErr.EventType != "events.SNSEvent" ||
				!strings.Contains(err.Error(), "decode events.SNSEvent event") {
				t.Errorf("error = %v, want a DecodeError naming the event type", err)
			}
			if inv.Status.Code != codes.Error {
				t.Errorf("status = %v, want error", inv.Status.Code)
			}
			if _, msg, _ := exception(t, inv); !strings.Contains(msg, "events.SNSEvent") {
				t.Errorf("exception.message = %q, want the event type", msg)
			}
		})
	}
}

// TestWrapKeepsAWSLambdaOptions: the decoder and encoder options of
// aws-lambda-go work through Wrap as through lambda.StartWithOptions.
func TestWrapKeepsAWSLambdaOptions(t *testing.T) {
	// The handler answers with what it decoded: the type of a number, and a
	// string with HTML in it.
	echo := func(_ context.Context, ev map[string]any) (map[string]any, error) {
		return map[string]any{"n": fmt.Sprintf("%T", ev["n"]), "html": ev["html"]}, nil
	}
	tests := []struct {
		name   string
		opts   []lambda.Option
		answer string
	}{
		{"defaults", nil, `{"html":"<b>bold</b>","n":"float64"}`},
		{"WithUseNumber", []lambda.Option{lambda.WithUseNumber(true)}, `{"html":"<b>bold</b>","n":"json.Number"}`},
		{"WithSetEscapeHTML", []lambda.Option{lambda.WithSetEscapeHTML(true)}, `{"html":"\u003cb\u003ebold\u003c/b\u003e","n":"float64"}`},
		{"WithSetIndent", []lambda.Option{lambda.WithSetIndent("", " ")}, "{\n \"html\": \"<b>bold</b>\",\n \"n\": \"float64\"\n}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, _ := otelsetuptest.New(t)
			h := otelsetup.Wrap(tr, echo, tt.opts...)
			answer, err := h.Invoke(otelsetuptest.InvocationContext("req-1", ctxHeader), testEvent(t, "numbers.json"))
			if err != nil || string(answer) != tt.answer {
				t.Errorf("answer = %q, %v; want %q", answer, err, tt.answer)
			}
		})
	}
}
