package localaws_test

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/xray-tracer/xray-tracer/internal/functions/sqssubscribe"
	"github.com/xray-tracer/xray-tracer/internal/local/localaws"
	"github.com/xray-tracer/xray-tracer/internal/local/sandbox"
)

// fakeQueue hands out one batch and records what the mapping deletes.
type fakeQueue struct {
	mu      sync.Mutex
	batch   []types.Message
	deleted []string // bodies
}

func (q *fakeQueue) ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := &sqs.ReceiveMessageOutput{Messages: q.batch}
	q.batch = nil
	return out, nil
}

func (q *fakeQueue) DeleteMessageBatch(_ context.Context, in *sqs.DeleteMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, e := range in.Entries {
		// The receipt handle is the body here, to say which record went.
		q.deleted = append(q.deleted, aws.ToString(e.ReceiptHandle))
	}
	return &sqs.DeleteMessageBatchOutput{}, nil
}

// batchOf is the messages goaws would hand out with these bodies: each
// with ApproximateReceiveCount 1, whichever receive it is, and (here) its
// body as its receipt handle, to say which record a delete names.
func batchOf(bodies []string) []types.Message {
	var out []types.Message
	for i, body := range bodies {
		out = append(out, types.Message{
			MessageId: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(body), Body: aws.String(body),
			Attributes: map[string]string{"ApproximateReceiveCount": "1"},
		})
	}
	return out
}

// TestSQSMappingDeletesWhatLambdaWould drives the mapping with the real
// sqs-subscribe bootstrap and a 1 s timeout, a batch at a time, through
// Lambda's rules for an SQS event source with ReportBatchItemFailures
// (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html):
// a success deletes every record but those named in batchItemFailures; a
// function that times out in the middle of its batch (the sandbox answers
// Sandbox.Timedout) deletes none, those it had processed included, so that
// every record comes back after the visibility timeout and none is lost.
func TestSQSMappingDeletesWhatLambdaWould(t *testing.T) {
	tests := []struct {
		name        string
		bodies      []string
		wantDeleted []string
		wantKept    int64
	}{
		{"every record succeeds", []string{"hello from /a", "hello from /b"}, []string{"hello from /a", "hello from /b"}, 0},
		{
			"a poison and a slow record",
			[]string{"hello from /a", sqssubscribe.PoisonBody, sqssubscribe.SlowBody(300 * time.Millisecond), "hello from /b"},
			[]string{"hello from /a", sqssubscribe.SlowBody(300 * time.Millisecond), "hello from /b"},
			1,
		},
		{
			"a timeout in the middle of the batch",
			[]string{"hello from /a", sqssubscribe.SlowBody(time.Minute), "hello from /b"},
			nil,
			3,
		},
	}
	l, err := localaws.StartLambda(t.Context(), []sandbox.Function{{
		Name: "sqs-subscribe", Bootstrap: bootstrap(t, "../../../cmd/sqs-subscribe"), Timeout: time.Second,
		Env: map[string]string{"OTEL_TRACES_EXPORTER": "none"},
	}}, 1, func(string) trace.Tracer { return noop.NewTracerProvider().Tracer("test") })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	var invs []localaws.Invocation
	l.Observe = func(inv localaws.Invocation) { invs = append(invs, inv) }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &fakeQueue{batch: batchOf(tt.bodies)}
			m := &localaws.SQSMapping{
				SQS: q, QueueURL: "http://sqs.local/123456789012/hello-queue", QueueARN: "arn:aws:sqs:us-east-1:123456789012:hello-queue",
				Region: "us-east-1", Function: "sqs-subscribe", Lambda: l,
				Keeper: localaws.NewTraceKeeper(&url.URL{Scheme: "http", Host: "127.0.0.1:1"}, nil),
				Log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
			}
			if err := m.Poll(t.Context()); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(q.deleted, tt.wantDeleted) {
				t.Errorf("deleted %q, want %q", q.deleted, tt.wantDeleted)
			}
			if st := m.Stats(); st.Kept != tt.wantKept || st.Deleted != int64(len(tt.wantDeleted)) || st.Records != int64(len(tt.bodies)) {
				t.Errorf("stats = %+v, want %d records, %d deleted, %d kept", st, len(tt.bodies), len(tt.wantDeleted), tt.wantKept)
			}
			last := invs[len(invs)-1]
			timedOut := last.Err != nil && last.Err.Type == "Sandbox.Timedout"
			if timedOut != (tt.wantKept == int64(len(tt.bodies))) {
				t.Errorf("invocation error = %v, want Sandbox.Timedout exactly when the whole batch stays", last.Err)
			}
			if !timedOut {
				return
			}
			// The batch comes back after the visibility timeout (goaws
			// answers ApproximateReceiveCount 1 again; the mapping counts
			// 2), and the slow record, held on its first receive only, now
			// lets the whole batch succeed.
			q.deleted, q.batch = nil, batchOf(tt.bodies)
			if err := m.Poll(t.Context()); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(q.deleted, tt.bodies) {
				t.Errorf("received again: deleted %q, want every record %q", q.deleted, tt.bodies)
			}
		})
	}
}
