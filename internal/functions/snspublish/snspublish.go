// Package snspublish publishes a message to the pattern's second topic for
// each request path: the "sns-publish" function. The topic's subscriber is
// sns-subscribe.
package snspublish

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/xray-tracer/xray-tracer/internal/functions/fanout"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

// SubsegmentName is the business subsegment of one publish.
const SubsegmentName = "SNS Publish Logic"

// Message is what the function publishes, as in the original pattern.
const Message = "Simulated Message"

// Handler publishes [Message] to the topic once per path.
type Handler struct {
	Topic    *sns.Client
	TopicARN string
}

// Result lists the IDs SNS gave the messages.
type Result struct {
	MessageIDs []string `json:"messageIds"`
}

// Handle takes an SNS event from the fan-out topic.
func (h *Handler) Handle(ctx context.Context, ev events.SNSEvent) (Result, error) {
	var res Result
	err := fanout.Each(ctx, ev, SubsegmentName, func(ctx context.Context, _ string) error {
		// The message it publishes is its annotation. The path it received
		// is not recorded: a message's body goes into a trace only as the
		// annotation the pattern defines for it (dynamo's and http's path).
		_ = otelsetup.PutAnnotation(ctx, "message", Message)
		out, err := h.Topic.Publish(ctx, &sns.PublishInput{
			TopicArn: aws.String(h.TopicARN),
			Message:  aws.String(Message),
		})
		if err != nil {
			return fmt.Errorf("publish to %s: %w", h.TopicARN, err)
		}
		id := aws.ToString(out.MessageId)
		otelsetup.PutMetadata(ctx, "message_id", id)
		res.MessageIDs = append(res.MessageIDs, id)
		return nil
	})
	return res, err
}
