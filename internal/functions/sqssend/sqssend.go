// Package sqssend sends a greeting for each request path to an SQS queue:
// the "sqs" function of the pattern. The queue's consumer is sqs-subscribe.
package sqssend

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/xray-tracer/xray-tracer/internal/functions/fanout"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

// SubsegmentName is the business subsegment of one message.
const SubsegmentName = "SQS Logic"

// DelaySeconds delays each message by a second, as the original pattern does,
// so that the consumer's invocation shows as a separate step on the timeline.
const DelaySeconds = 1

// Handler sends "hello from <path>" to the queue, once per path. (The
// original sent every message twice.)
type Handler struct {
	Queue    *sqs.Client
	QueueURL string
}

// Result lists the IDs SQS gave the messages.
type Result struct {
	MessageIDs []string `json:"messageIds"`
}

// Handle takes an SNS event from the fan-out topic.
func (h *Handler) Handle(ctx context.Context, ev events.SNSEvent) (Result, error) {
	var res Result
	err := fanout.Each(ctx, ev, SubsegmentName, func(ctx context.Context, path string) error {
		body := "hello from " + path
		_ = otelsetup.PutAnnotation(ctx, "message", body)
		// The SDK's instrumentation puts the X-Amzn-Trace-Id header on
		// this call, from which SQS sets the message's AWSTraceHeader.
		out, err := h.Queue.SendMessage(ctx, &sqs.SendMessageInput{
			QueueUrl:     aws.String(h.QueueURL),
			MessageBody:  aws.String(body),
			DelaySeconds: DelaySeconds,
		})
		if err != nil {
			return fmt.Errorf("send %q to %s: %w", body, h.QueueURL, err)
		}
		id := aws.ToString(out.MessageId)
		otelsetup.PutMetadata(ctx, "message_id", id)
		res.MessageIDs = append(res.MessageIDs, id)
		return nil
	})
	return res, err
}
