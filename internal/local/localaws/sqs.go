package localaws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/internal/local/lambdaevents"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

// SQSClient is the part of the SQS client the mapping uses.
type SQSClient interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
}

// SQSMapping stands in for an SQS event source mapping with
// ReportBatchItemFailures, as deploy/sam/template.yaml configures it
// (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html):
//   - pollers receive batches of up to BatchSize messages and invoke the
//     function with each, Concurrency batches at a time;
//   - on success the mapping deletes the batch's messages, except those the
//     function names in batchItemFailures; if the function fails, or its
//     answer names a message that is not in the batch, none is deleted
//     (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html);
//   - messages left become visible again after the queue's visibility
//     timeout, and the queue's redrive policy moves them to the dead-letter
//     queue after maxReceiveCount receives (the emulator does both).
//
// Each record carries the AWSTraceHeader attribute SQS would have set from
// its sender's trace header (TraceKeeper keeps them), and the
// ApproximateReceiveCount SQS would give it: the emulator (goaws v0.5.4)
// answers 1 on every receive, so the mapping, the queue's only consumer,
// counts the receives itself. Lambda traces each
// batch in a new trace, linked to the traces its messages came from
// (https://docs.aws.amazon.com/xray/latest/devguide/xray-tracelinking.html).
type SQSMapping struct {
	SQS         SQSClient
	QueueURL    string
	QueueARN    string
	Region      string
	Function    string
	Lambda      *Lambda
	Keeper      *TraceKeeper
	BatchSize   int32 // default 10
	Concurrency int   // default 2
	Log         *slog.Logger

	polls, failedPolls, batches, records, deleted, kept atomic.Int64

	mu       sync.Mutex
	receives map[string]int // by message id, until the message is deleted
}

// SQSStats counts what the mapping did.
type SQSStats struct {
	Polls, FailedPolls int64 // ReceiveMessage calls, and those that failed
	Batches, Records   int64 // invocations, and the records they carried
	Deleted, Kept      int64 // records deleted, and left for a retry
}

// Stats says what the mapping has done so far.
func (m *SQSMapping) Stats() SQSStats {
	return SQSStats{
		Polls: m.polls.Load(), FailedPolls: m.failedPolls.Load(),
		Batches: m.batches.Load(), Records: m.records.Load(),
		Deleted: m.deleted.Load(), Kept: m.kept.Load(),
	}
}

// Run polls until ctx ends, then waits for the batches under way.
func (m *SQSMapping) Run(ctx context.Context) {
	n := m.Concurrency
	if n <= 0 {
		n = 2
	}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for ctx.Err() == nil {
				if err := m.Poll(ctx); err != nil && ctx.Err() == nil {
					m.Log.Warn("sqs event source: poll failed", "queue", m.QueueURL, "error", err)
					sleep(ctx, time.Second)
				}
			}
		})
	}
	wg.Wait()
}

// pollWait is how long one ReceiveMessage waits for messages (long
// polling); short, so that Run ends soon after its context.
const pollWait = 1

// Poll receives one batch and, if there is one, processes it.
func (m *SQSMapping) Poll(ctx context.Context) error {
	size := m.BatchSize
	if size <= 0 {
		size = 10
	}
	m.polls.Add(1)
	out, err := m.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(m.QueueURL),
		MaxNumberOfMessages:         size,
		WaitTimeSeconds:             pollWait,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		if ctx.Err() == nil {
			m.failedPolls.Add(1)
		}
		return fmt.Errorf("receive: %w", err)
	}
	if len(out.Messages) == 0 {
		return nil
	}
	m.batches.Add(1)
	m.records.Add(int64(len(out.Messages)))
	// The batch is processed to its end even when ctx ends: the invocation
	// is under way, and its outcome decides which messages are deleted.
	return m.process(context.WithoutCancel(ctx), out.Messages)
}

func (m *SQSMapping) process(ctx context.Context, msgs []types.Message) error {
	ev := lambdaevents.SQSEvent(msgs, m.QueueARN, m.Region)
	m.countReceives(ev)
	var links []trace.Link
	for i, rec := range ev.Records {
		header, ok := m.Keeper.AWSTraceHeader(rec.MessageId)
		if !ok {
			continue
		}
		ev.Records[i].Attributes["AWSTraceHeader"] = header
		if link, ok := otelsetup.LinkFromTraceHeader(header); ok {
			links = append(links, link)
		}
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode the SQS event: %w", err)
	}
	inv := m.Lambda.Invoke(ctx, m.Function, "datasource", payload, trace.SpanContext{}, links)
	if inv.Failed() {
		// A function error or a timeout (Sandbox.Timedout) deletes nothing,
		// whatever the function did with the batch's first records before
		// it: every message becomes visible again after the visibility
		// timeout, to be received again or dead-lettered
		// (services-sqs-errorhandling.html: "If your function times out or
		// returns an error", without batchItemFailures "Lambda considers
		// the entire batch of messages as failed").
		m.Log.Warn("sqs event source: the invocation failed; every record of its batch stays on the queue",
			"function", m.Function, "records", len(msgs), "error", invocationError(inv))
		m.kept.Add(int64(len(msgs)))
		return nil
	}
	keep, err := failedItems(inv.Payload, ev)
	if err != nil {
		m.Log.Warn("sqs event source: the whole batch failed", "function", m.Function, "error", err)
		m.kept.Add(int64(len(msgs)))
		return nil
	}
	m.kept.Add(int64(len(keep)))
	return m.delete(ctx, msgs, keep)
}

// countReceives sets each record's ApproximateReceiveCount to the times
// the mapping has received its message. A message the redrive policy moves
// to the dead-letter queue is never deleted here and keeps its count: an
// entry per poison message, which is what the queue holds too.
func (m *SQSMapping) countReceives(ev events.SQSEvent) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.receives == nil {
		m.receives = map[string]int{}
	}
	for _, rec := range ev.Records {
		m.receives[rec.MessageId]++
		rec.Attributes["ApproximateReceiveCount"] = strconv.Itoa(m.receives[rec.MessageId])
	}
}

// failedItems reads the function's batchItemFailures: the ids of the
// records to keep. An id that names no record of the batch fails it whole.
func failedItems(payload []byte, ev events.SQSEvent) (map[string]bool, error) {
	keep := map[string]bool{}
	if len(payload) == 0 || string(payload) == "null" {
		return keep, nil
	}
	var resp events.SQSEventResponse
	if err := json.Unmarshal(payload, &resp); err != nil {
		return nil, fmt.Errorf("the function's answer is not a batch response: %w", err)
	}
	ids := map[string]bool{}
	for _, r := range ev.Records {
		ids[r.MessageId] = true
	}
	for _, f := range resp.BatchItemFailures {
		if !ids[f.ItemIdentifier] {
			return nil, fmt.Errorf("batchItemFailures names %q, which is not in the batch", f.ItemIdentifier)
		}
		keep[f.ItemIdentifier] = true
	}
	return keep, nil
}

// delete removes the batch's messages but those to keep.
func (m *SQSMapping) delete(ctx context.Context, msgs []types.Message, keep map[string]bool) error {
	var entries []types.DeleteMessageBatchRequestEntry
	for i, msg := range msgs {
		if keep[aws.ToString(msg.MessageId)] {
			continue
		}
		entries = append(entries, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: msg.ReceiptHandle})
	}
	if len(entries) == 0 {
		return nil
	}
	out, err := m.SQS.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(m.QueueURL), Entries: entries})
	if err != nil {
		return fmt.Errorf("delete %d messages: %w", len(entries), err)
	}
	m.deleted.Add(int64(len(entries) - len(out.Failed)))
	var errs []error
	for _, f := range out.Failed {
		errs = append(errs, fmt.Errorf("delete entry %s: %s", aws.ToString(f.Id), aws.ToString(f.Message)))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range entries {
		i, _ := strconv.Atoi(aws.ToString(e.Id))
		m.Keeper.Forget(aws.ToString(msgs[i].MessageId))
		delete(m.receives, aws.ToString(msgs[i].MessageId))
	}
	return errors.Join(errs...)
}

// invocationError is why an invocation failed.
func invocationError(inv Invocation) error {
	if inv.Failure != nil {
		return inv.Failure
	}
	return inv.Err
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
