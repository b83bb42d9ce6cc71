// Package lambdaevents builds the events Lambda hands a function from what a
// local SNS or SQS emulator delivers, so that the local runner invokes the
// real handlers with the exact shapes AWS uses:
//   - an SNS HTTP notification (https://docs.aws.amazon.com/sns/latest/dg/http-notification-json.html)
//     becomes the SNS event of a subscribed function
//     (https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html);
//   - SQS messages from ReceiveMessage become the SQS event of an event
//     source mapping (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html).
package lambdaevents

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Notification is the JSON body SNS posts to an HTTP subscriber.
type Notification struct {
	Type              string                           `json:"Type"`
	MessageID         string                           `json:"MessageId"`
	Token             string                           `json:"Token,omitempty"`
	TopicArn          string                           `json:"TopicArn"`
	Subject           string                           `json:"Subject,omitempty"`
	Message           string                           `json:"Message"`
	Timestamp         time.Time                        `json:"Timestamp"`
	SignatureVersion  string                           `json:"SignatureVersion"`
	Signature         string                           `json:"Signature"`
	SigningCertURL    string                           `json:"SigningCertURL"`
	SubscribeURL      string                           `json:"SubscribeURL,omitempty"`
	UnsubscribeURL    string                           `json:"UnsubscribeURL,omitempty"`
	MessageAttributes map[string]NotificationAttribute `json:"MessageAttributes,omitempty"`
}

// NotificationAttribute is a message attribute of a notification: SNS writes
// Type and Value; some emulators write the Publish API's DataType and
// StringValue instead, which are read as the same.
type NotificationAttribute struct {
	Type        string `json:"Type,omitempty"`
	Value       string `json:"Value,omitempty"`
	DataType    string `json:"DataType,omitempty"`
	StringValue string `json:"StringValue,omitempty"`
}

// The notification types SNS sends to an HTTP subscriber.
const (
	TypeNotification             = "Notification"
	TypeSubscriptionConfirmation = "SubscriptionConfirmation"
	TypeUnsubscribeConfirmation  = "UnsubscribeConfirmation"
)

// ParseNotification decodes a notification body and checks the fields every
// type carries.
func ParseNotification(body []byte) (Notification, error) {
	var n Notification
	if err := json.Unmarshal(body, &n); err != nil {
		return Notification{}, fmt.Errorf("SNS notification: %w", err)
	}
	switch {
	case n.Type == "":
		return Notification{}, errors.New("SNS notification: no Type")
	case n.MessageID == "" || n.TopicArn == "":
		return Notification{}, fmt.Errorf("SNS %s: no MessageId or TopicArn", n.Type)
	case n.Type == TypeSubscriptionConfirmation && n.SubscribeURL == "":
		return Notification{}, errors.New("SNS SubscriptionConfirmation: no SubscribeURL to confirm with")
	}
	return n, nil
}

// SNSEvent is the event Lambda gives the function subscribed to the topic
// with subscriptionARN for notification n: one record.
func SNSEvent(n Notification, subscriptionARN string) events.SNSEvent {
	attrs := map[string]any{}
	for name, a := range n.MessageAttributes {
		typ, value := a.Type, a.Value
		if typ == "" {
			typ, value = a.DataType, a.StringValue
		}
		attrs[name] = map[string]any{"Type": typ, "Value": value}
	}
	return events.SNSEvent{Records: []events.SNSEventRecord{{
		EventVersion:         "1.0",
		EventSource:          "aws:sns",
		EventSubscriptionArn: subscriptionARN,
		SNS: events.SNSEntity{
			Type:              n.Type,
			MessageID:         n.MessageID,
			TopicArn:          n.TopicArn,
			Subject:           n.Subject,
			Message:           n.Message,
			Timestamp:         n.Timestamp,
			SignatureVersion:  n.SignatureVersion,
			Signature:         n.Signature,
			SigningCertURL:    n.SigningCertURL,
			UnsubscribeURL:    n.UnsubscribeURL,
			MessageAttributes: attrs,
		},
	}}}
}

// SQSEvent is the event an event source mapping on the queue queueARN gives
// its function for a batch of received messages.
func SQSEvent(msgs []types.Message, queueARN, region string) events.SQSEvent {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, 0, len(msgs))}
	for _, m := range msgs {
		attrs := make(map[string]string, len(m.Attributes))
		for k, v := range m.Attributes {
			attrs[k] = v
		}
		mattrs := make(map[string]events.SQSMessageAttribute, len(m.MessageAttributes))
		for k, v := range m.MessageAttributes {
			mattrs[k] = events.SQSMessageAttribute{
				StringValue:      v.StringValue,
				BinaryValue:      v.BinaryValue,
				StringListValues: nonNil(v.StringListValues),
				BinaryListValues: nonNilBytes(v.BinaryListValues),
				DataType:         aws.ToString(v.DataType),
			}
		}
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId:              aws.ToString(m.MessageId),
			ReceiptHandle:          aws.ToString(m.ReceiptHandle),
			Body:                   aws.ToString(m.Body),
			Md5OfBody:              aws.ToString(m.MD5OfBody),
			Md5OfMessageAttributes: aws.ToString(m.MD5OfMessageAttributes),
			Attributes:             attrs,
			MessageAttributes:      mattrs,
			EventSourceARN:         queueARN,
			EventSource:            "aws:sqs",
			AWSRegion:              region,
		})
	}
	return ev
}

// nonNil keeps empty lists as [] in the JSON, as Lambda sends them.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilBytes(s [][]byte) [][]byte {
	if s == nil {
		return [][]byte{}
	}
	return s
}
