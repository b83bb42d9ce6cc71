package otelsetup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestErrorType(t *testing.T) {
	notFound := &types.ResourceNotFoundException{Message: new(string)}
	opErr := &smithy.OperationError{ServiceID: "DynamoDB", OperationName: "UpdateItem", Err: notFound}
	tests := []struct {
		err  error
		want string
	}{
		{errors.New("plain"), "*errors.errorString"},
		{fmt.Errorf("context: %w", errors.New("plain")), "*fmt.wrapError"},
		{fmt.Errorf("add a hit: %w", opErr), "*types.ResourceNotFoundException"},
		{opErr, "*types.ResourceNotFoundException"},
		{context.DeadlineExceeded, "context.deadlineExceededError"},
		{fmt.Errorf("wait: %w", context.DeadlineExceeded), "context.deadlineExceededError"},
	}
	for _, tt := range tests {
		if got := errorType(tt.err); got != tt.want {
			t.Errorf("errorType(%v) = %s, want %s", tt.err, got, tt.want)
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
