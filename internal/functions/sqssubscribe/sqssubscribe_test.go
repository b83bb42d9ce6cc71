package sqssubscribe_test

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/internal/functions/sqssubscribe"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest"
)

const header = "Root=1-674a8c02-00000000000000000000000a;Parent=53995c3f42cd8ad8;Sampled=1"

// testdata/events/sqs-batch.json holds three records: a greeting sent with a
// trace header, an empty body (received three times already), and a greeting
// without a trace header.
func TestHandleBatch(t *testing.T) {
	t.Setenv("OTEL_SERVICE_NAME", "svc")
	event := otelsetuptest.ReadEvent(t, "sqs-batch.json")
	tr, exp := otelsetuptest.New(t)

	resp, err := otelsetuptest.Invoke[events.SQSEventResponse](t, otelsetuptest.InvocationContext("req-1", header), otelsetup.Wrap(tr, sqssubscribe.Handler{}.Handle), event)
	if err != nil {
		t.Fatalf("error = %v: a failing record must not fail the batch", err)
	}
	want := []events.SQSBatchItemFailure{{ItemIdentifier: "2e1424d4-f796-459a-8184-9c92662be6da"}}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0] != want[0] {
		t.Errorf("batch item failures = %+v, want %+v", resp.BatchItemFailures, want)
	}

	spans := exp.GetSpans()
	wantTree := `svc internal {ColdStart=true, Service=svc}
  process_message internal {message=hello from /orders/42}
  process_message internal ERROR
  process_message internal {message=hello from /}
`
	if got := otelsetuptest.Tree(spans); got != wantTree {
		t.Errorf("span tree:\n%s\nwant:\n%s", got, wantTree)
	}
	records := otelsetuptest.Named(spans, sqssubscribe.SpanName)
	if len(records) != 3 {
		t.Fatalf("%d record spans, want 3", len(records))
	}
	wantLinks := []struct{ trace, span string }{
		{"674a8c005759e988bd862e3fe1be46a9", "6a0a44d5e7c8f0b1"},
		{"674a8c010123456789abcdef01234567", "7b1b55e6f8d90123"},
		{},
	}
	for i, s := range records {
		if s.SpanContext.TraceID() != records[0].SpanContext.TraceID() || s.SpanContext.TraceID().String() != "674a8c0200000000000000000000000a" {
			t.Errorf("record %d is not in the invocation's trace", i)
		}
		if wantLinks[i].trace == "" {
			if len(s.Links) != 0 {
				t.Errorf("record %d without AWSTraceHeader has links %v", i, s.Links)
			}
			continue
		}
		if len(s.Links) != 1 || s.Links[0].SpanContext.TraceID().String() != wantLinks[i].trace ||
			s.Links[0].SpanContext.SpanID().String() != wantLinks[i].span {
			t.Errorf("record %d links = %+v, want the sender %s/%s", i, s.Links, wantLinks[i].trace, wantLinks[i].span)
		}
		if id, _ := otelsetuptest.Attr(s, "messaging.message.id"); id.AsString() == "" {
			t.Errorf("record %d has no messaging.message.id", i)
		}
		if q, _ := otelsetuptest.Attr(s, "messaging.destination.name"); q.AsString() != "hello-queue" {
			t.Errorf("record %d queue = %q, want hello-queue", i, q.AsString())
		}
		if s.SpanKind != trace.SpanKindInternal {
			t.Errorf("record %d kind = %v", i, s.SpanKind)
		}
	}
	if !strings.Contains(records[1].Status.Description, "empty") {
		t.Errorf("failed record status = %q, want the reason", records[1].Status.Description)
	}
}

func TestHandleRejectsWhatIsNotAGreeting(t *testing.T) {
	tests := []struct {
		name, body string
		wantFail   bool
	}{
		{"greeting", "hello from /a", false},
		{"empty", "", true},
		{"other text", "goodbye", true},
		{"poison", sqssubscribe.PoisonBody, true},
		{"slow without a duration", "slow later", true},
		{"slow, negative", "slow -1s", true},
		{"slow", sqssubscribe.SlowBody(time.Second), false},
	}
	for _, tt := range tests {
		tr, _ := otelsetuptest.New(t)
		ev := events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m-1", Body: tt.body}}}
		resp, err := otelsetuptest.Invoke[events.SQSEventResponse](t, otelsetuptest.InvocationContext("r", header), otelsetup.Wrap(tr, sqssubscribe.Handler{}.Handle), otelsetuptest.Event(t, ev))
		if err != nil {
			t.Fatalf("%s: error %v", tt.name, err)
		}
		if got := len(resp.BatchItemFailures) == 1; got != tt.wantFail {
			t.Errorf("%s: failed = %v, want %v", tt.name, got, tt.wantFail)
		}
	}
}

func TestHandleMalformedEventFailsWholeInvocation(t *testing.T) {
	// Without records to name there is no item to report; Lambda retries the
	// batch and, after maxReceiveCount, SQS moves it to the DLQ.
	tr, exp := otelsetuptest.New(t)
	_, err := otelsetuptest.Invoke[events.SQSEventResponse](t, otelsetuptest.InvocationContext("r", header), otelsetup.Wrap(tr, sqssubscribe.Handler{}.Handle), []byte(`{"Records":"x"}`))
	if err == nil || !strings.Contains(err.Error(), "decode events.SQSEvent event") {
		t.Errorf("error = %v, want a decode error naming the event type", err)
	}
	if len(exp.GetSpans()) != 1 {
		t.Errorf("%d spans, want the failed invocation", len(exp.GetSpans()))
	}
}

// TestSlowBodyHoldsItsFirstReceive: a SlowBody record stalls its batch on
// the first receive only, for its duration or until just past the deadline
// (whichever comes first, so that the Lambda service times the invocation
// out), ignoring the context's end; it succeeds either way. A call without
// a deadline is never held. The clock is synctest's.
func TestSlowBodyHoldsItsFirstReceive(t *testing.T) {
	tests := []struct {
		name         string
		hold         time.Duration
		receiveCount string
		timeout      time.Duration // 0: no deadline
		want         time.Duration
	}{
		{"first receive", 2 * time.Second, "1", 10 * time.Second, 2 * time.Second},
		{"beyond the deadline", time.Hour, "1", 10 * time.Second, 11 * time.Second},
		{"second receive", 2 * time.Second, "2", 10 * time.Second, 0},
		{"no deadline", 2 * time.Second, "1", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				if tt.timeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.timeout)
					defer cancel()
				}
				ev := events.SQSEvent{Records: []events.SQSMessage{
					{MessageId: "slow", Body: sqssubscribe.SlowBody(tt.hold), Attributes: map[string]string{"ApproximateReceiveCount": tt.receiveCount}},
					{MessageId: "good", Body: "hello from /after"},
				}}
				start := time.Now()
				resp, err := sqssubscribe.Handler{}.Handle(ctx, ev)
				if err != nil || len(resp.BatchItemFailures) != 0 {
					t.Errorf("Handle = %+v, %v; want no failure", resp, err)
				}
				if got := time.Since(start); got != tt.want {
					t.Errorf("the batch took %v, want %v", got, tt.want)
				}
			})
		})
	}
}
