// Package snssubscribe processes the messages of the pattern's second topic:
// the "sns-subscribe" function.
package snssubscribe

import (
	"context"

	"github.com/aws/aws-lambda-go/events"

	"github.com/xray-tracer/xray-tracer/internal/functions/fanout"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

// SubsegmentName is the business subsegment of one message.
const SubsegmentName = "process_message"

// Handler records each message it receives.
type Handler struct{}

// Result lists the messages processed.
type Result struct {
	Messages []string `json:"messages"`
}

// Handle takes an SNS event from the second topic.
func (Handler) Handle(ctx context.Context, ev events.SNSEvent) (Result, error) {
	if len(ev.Records) == 0 {
		return Result{}, fanout.ErrNoRecords
	}
	var res Result
	for _, r := range ev.Records {
		_ = otelsetup.Capture(ctx, SubsegmentName, func(ctx context.Context) error {
			_ = otelsetup.PutAnnotation(ctx, "message_content", r.SNS.Message)
			otelsetup.PutMetadata(ctx, "message_id", r.SNS.MessageID)
			otelsetup.PutMetadata(ctx, "topic_arn", r.SNS.TopicArn)
			otelsetup.PutMetadata(ctx, "subject", r.SNS.Subject)
			res.Messages = append(res.Messages, r.SNS.Message)
			return nil
		})
	}
	return res, nil
}
