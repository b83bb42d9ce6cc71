// Package sqssubscribe consumes the pattern's queue: the "sqs-subscribe"
// function. Each record is its own span, linked to the trace of the function
// that sent it, and a record that fails is reported as a batch item failure,
// so SQS redelivers that record alone.
//
// Two kinds of body, which the pattern never sends (it sends "hello from
// <path>"), exist so that the local stack's tests and `make load` can drive
// the event source mapping through its failure paths:
//
//   - PoisonBody, like any body that is not a greeting, fails its record on
//     every receive: it is reported alone as a batch item failure, received
//     again after the queue's visibility timeout, and dead-lettered after the
//     redrive policy's maxReceiveCount.
//   - SlowBody(d), "slow <duration>", holds its record for d on its first
//     receive, as a call that ignores its context would, and then succeeds;
//     on later receives it succeeds at once, as after a transient stall. A d
//     beyond the function's timeout times the invocation out in the middle
//     of its batch, so that Lambda returns the whole batch to the queue.
package sqssubscribe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

// SpanName is the span of one record.
const SpanName = "process_message"

// ErrBadBody is wrapped by the error of a record whose body cannot be processed.
var ErrBadBody = errors.New("message body is not a greeting")

// PoisonBody is a record that always fails (see the package doc).
const PoisonBody = "poison: not a greeting"

// slowPrefix starts a body that holds its record (see the package doc).
const slowPrefix = "slow "

// SlowBody is a record held for d on its first receive (see the package doc).
func SlowBody(d time.Duration) string { return slowPrefix + d.String() }

// overrun bounds how far a held record runs past the invocation's deadline:
// long enough for the Lambda service (or its stand-in) to time the
// invocation out, short enough that a stray slow body cannot park a sandbox
// for long.
const overrun = time.Second

// Handler processes the greetings the sqs function sends.
type Handler struct{}

// Handle takes an SQS event and returns the records that failed. It never
// fails the whole batch: a failing record must not make SQS redeliver the
// ones that succeeded.
func (Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	for _, rec := range ev.Records {
		if err := processRecord(ctx, rec); err != nil {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
		}
	}
	return resp, nil
}

// processRecord traces one record as a span linked to the span that sent it:
// the record's AWSTraceHeader names it (SQS sets it from the X-Amzn-Trace-Id
// header of SendMessage). A link, not a parent, because a batch holds records
// of many traces.
//
// The span is INTERNAL, not CONSUMER as the messaging conventions suggest: the
// awsxray exporter from v0.142.0 on makes a CONSUMER span with a parent a
// segment of its own, a second node beside the function on the X-Ray map (the
// fidelity tests in test/ show it); an INTERNAL span stays a subsegment of
// the invocation with every exporter version.
func processRecord(ctx context.Context, rec events.SQSMessage) error {
	opts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(
			semconv.MessagingSystemAWSSQS,
			semconv.MessagingOperationTypeProcess,
			semconv.MessagingMessageID(rec.MessageId),
			semconv.MessagingDestinationName(queueName(rec.EventSourceARN)),
		),
	}
	if link, ok := otelsetup.LinkFromTraceHeader(rec.Attributes["AWSTraceHeader"]); ok {
		opts = append(opts, trace.WithLinks(link))
	}
	return otelsetup.Capture(ctx, SpanName, func(ctx context.Context) error {
		otelsetup.PutMetadata(ctx, "approximate_receive_count", rec.Attributes["ApproximateReceiveCount"])
		if d, ok := strings.CutPrefix(rec.Body, slowPrefix); ok {
			return hold(ctx, d, rec.Attributes["ApproximateReceiveCount"])
		}
		if err := checkBody(rec.Body); err != nil {
			return fmt.Errorf("SQS message %s: %w", rec.MessageId, err)
		}
		_ = otelsetup.PutAnnotation(ctx, "message", rec.Body)
		return nil
	}, opts...)
}

func checkBody(body string) error {
	switch {
	case body == "":
		return fmt.Errorf("empty: %w", ErrBadBody)
	case !strings.HasPrefix(body, "hello from /"):
		return fmt.Errorf("%.64q does not start with \"hello from /\": %w", body, ErrBadBody)
	}
	return nil
}

// hold stalls a SlowBody record on its first receive: for its duration or
// until overrun past the invocation's deadline, whichever comes first, and
// not cut short by ctx, as a stuck call is not. Without a deadline (never in
// Lambda; a test's or a fuzzer's call) it does not stall, so that no input
// can hang a caller that has no timeout of its own.
func hold(ctx context.Context, spec, receiveCount string) error {
	d, err := time.ParseDuration(spec)
	if err != nil || d < 0 {
		return fmt.Errorf("%.64q is not a duration: %w", spec, ErrBadBody)
	}
	otelsetup.PutMetadata(ctx, "slow", d.String())
	deadline, ok := ctx.Deadline()
	if receiveCount != "1" || !ok {
		return nil
	}
	time.Sleep(min(d, time.Until(deadline)+overrun))
	return nil
}

// queueName is the last part of arn:aws:sqs:<region>:<account>:<queue>.
func queueName(arn string) string {
	return arn[strings.LastIndex(arn, ":")+1:]
}
