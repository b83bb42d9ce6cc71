package otelsetup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// typedError is an error type of a user's, which wraps a cause and means
// more than it.
type typedError struct{ err error }

func (e *typedError) Error() string { return "typed: " + e.err.Error() }
func (e *typedError) Unwrap() error { return e.err }

func TestErrorType(t *testing.T) {
	notFound := &types.ResourceNotFoundException{Message: new(string)}
	opErr := &smithy.OperationError{ServiceID: "DynamoDB", OperationName: "UpdateItem", Err: notFound}
	sentinel := errors.New("simulated failure")
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"plain message", errors.New("plain"), "*errors.errorString"},
		{"wrapped message: the message, not the wrapper", fmt.Errorf("context: %w", sentinel), "*errors.errorString"},
		{"twice wrapped message", fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", sentinel)), "*errors.errorString"},
		{"AWS error", fmt.Errorf("add a hit: %w", opErr), "*types.ResourceNotFoundException"},
		{"AWS operation error", opErr, "*types.ResourceNotFoundException"},
		{"context", context.DeadlineExceeded, "context.deadlineExceededError"},
		{"wrapped context", fmt.Errorf("wait: %w", context.DeadlineExceeded), "context.deadlineExceededError"},
		{"HTTP client error", fmt.Errorf("GET: %w", &url.Error{Op: "Get", URL: "http://x", Err: refused}), "syscall.Errno"},
		{"HTTP client error around a message", &url.Error{Op: "Get", URL: "http://x", Err: fmt.Errorf("GET x: %w", sentinel)}, "*errors.errorString"},
		{"typed error around a message", fmt.Errorf("order: %w", &typedError{sentinel}), "*otelsetup.typedError"},
		{"joined: the first typed one", errors.Join(sentinel, &typedError{sentinel}, notFound), "*otelsetup.typedError"},
		{"several wrapped", fmt.Errorf("%w and %w", sentinel, opErr), "*types.ResourceNotFoundException"},
		{"undecodable event", &DecodeError{EventType: "events.SNSEvent", Err: io.ErrUnexpectedEOF}, "*otelsetup.DecodeError"},
		{"event of the wrong shape", &DecodeError{EventType: "events.SNSEvent", Err: &json.UnmarshalTypeError{Value: "string"}}, "*json.UnmarshalTypeError"},
	}
	for _, tt := range tests {
		if got := errorType(tt.err); got != tt.want {
			t.Errorf("%s: errorType(%v) = %s, want %s", tt.name, tt.err, got, tt.want)
		}
	}
}

// TestRecordErrorStackStartsAtTheCaller: the exception's stack begins with
// the function that recorded the error, not with the SDK or this package's
// helpers, so X-Ray's cause shows the handler's frames first.
func TestRecordErrorStackStartsAtTheCaller(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	_, span := tp.Tracer("t").Start(context.Background(), "s")
	recordError(span, errors.New("boom"))
	span.End()

	ev := rec.Ended()[0].Events()[0]
	var stack, typ string
	for _, kv := range ev.Attributes {
		switch kv.Key {
		case "exception.stacktrace":
			stack = kv.Value.AsString()
		case "exception.type":
			typ = kv.Value.AsString()
		}
	}
	lines := strings.Split(stack, "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "goroutine ") {
		t.Fatalf("stack is not in runtime.Stack's format:\n%s", stack)
	}
	if !strings.Contains(lines[1], "TestRecordErrorStackStartsAtTheCaller") {
		t.Errorf("first frame is %q, want the caller", lines[1])
	}
	if strings.Contains(stack, "otel/sdk/trace") || strings.Contains(stack, "recordError") {
		t.Errorf("stack holds SDK or helper frames:\n%s", stack)
	}
	if typ != "*errors.errorString" || ev.Name != "exception" {
		t.Errorf("event %q type %q", ev.Name, typ)
	}
}
