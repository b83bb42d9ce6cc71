package otelsetup_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest"
)

// TestWrapRecordsPanicValueType: a panic's exception.type is the type of the
// value the handler panicked with, and its stack shows where it panicked.
func TestWrapRecordsPanicValueType(t *testing.T) {
	tests := []struct {
		name     string
		handler  func(context.Context, events.SNSEvent) (string, error)
		wantType string
	}{
		{"string", panicsWithString, "string"},
		{"error value", panicsWithError, "*otelsetup_test.orderError"},
		{"runtime error", panicsOnIndex, "runtime.boundsError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, exp := otelsetuptest.New(t)
			func() {
				defer func() { _ = recover() }()
				_, _ = otelsetuptest.Invoke[string](t, otelsetuptest.InvocationContext("req-1", ctxHeader),
					otelsetup.Wrap(tr, tt.handler), []byte(`{}`))
				t.Fatal("the panic did not go on")
			}()
			inv := onlySpan(t, exp.GetSpans())
			typ, _, stack := exception(t, inv)
			if typ != tt.wantType {
				t.Errorf("exception.type = %s, want %s", typ, tt.wantType)
			}
			if !strings.Contains(stack, "_test.panics") {
				t.Errorf("stack does not show the panicking function:\n%s", stack)
			}
		})
	}
}

type orderError struct{ id int }

func (e *orderError) Error() string { return fmt.Sprintf("order %d is broken", e.id) }

func panicsWithString(context.Context, events.SNSEvent) (string, error) { panic("kaput") }

func panicsWithError(context.Context, events.SNSEvent) (string, error) {
	panic(&orderError{id: 42})
}

func panicsOnIndex(_ context.Context, ev events.SNSEvent) (string, error) {
	return ev.Records[len(ev.Records)].SNS.Message, nil
}
