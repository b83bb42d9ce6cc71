package lambdaevents_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/xray-tracer/xray-tracer/internal/local/lambdaevents"
)

const subscription = "arn:aws:sns:eu-west-1:123456789012:fan-out:c9135db0-26c4-47ec-8998-413945fb5a96"

func TestSNSEventFromNotification(t *testing.T) {
	// The same notification as SNS and as the emulator spell it gives the
	// same event.
	for _, file := range []string{"sns-notification.json", "sns-notification-emulator.json"} {
		t.Run(file, func(t *testing.T) {
			body, err := os.ReadFile("testdata/" + file)
			if err != nil {
				t.Fatal(err)
			}
			n, err := lambdaevents.ParseNotification(body)
			if err != nil {
				t.Fatal(err)
			}
			ev := lambdaevents.SNSEvent(n, subscription)
			// Through JSON, as Lambda delivers it and the handler decodes it.
			b, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			var got events.SNSEvent
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if len(got.Records) != 1 {
				t.Fatalf("%d records, want 1", len(got.Records))
			}
			r := got.Records[0]
			if r.EventSource != "aws:sns" || r.EventVersion != "1.0" || r.EventSubscriptionArn != subscription {
				t.Errorf("record %+v, want an aws:sns 1.0 record of the subscription", r)
			}
			if r.SNS.Message != "/orders/42" || r.SNS.Type != "Notification" || r.SNS.MessageID != n.MessageID || r.SNS.TopicArn != n.TopicArn || r.SNS.Timestamp.IsZero() {
				t.Errorf("SNS entity %+v", r.SNS)
			}
			attr, _ := r.SNS.MessageAttributes["color"].(map[string]any)
			if attr["Type"] != "String" || attr["Value"] != "blue" {
				t.Errorf("message attribute color = %v, want Lambda's {Type: String, Value: blue}", r.SNS.MessageAttributes["color"])
			}
			if !strings.Contains(string(b), `"SigningCertUrl"`) || !strings.Contains(string(b), `"UnsubscribeUrl"`) {
				t.Errorf("event JSON lacks Lambda's SigningCertUrl/UnsubscribeUrl spelling: %s", b)
			}
		})
	}
}

func TestParseNotificationRefusesWhatIsNotOne(t *testing.T) {
	confirm, err := os.ReadFile("testdata/sns-subscription-confirmation.json")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := lambdaevents.ParseNotification(confirm); err != nil || n.Type != lambdaevents.TypeSubscriptionConfirmation || n.SubscribeURL == "" {
		t.Errorf("subscription confirmation = %+v, %v", n, err)
	}
	tests := map[string]string{
		"not JSON":                   `{"Type":`,
		"no type":                    `{"MessageId":"m","TopicArn":"t"}`,
		"no topic":                   `{"Type":"Notification","MessageId":"m"}`,
		"confirmation without a URL": `{"Type":"SubscriptionConfirmation","MessageId":"m","TopicArn":"t"}`,
	}
	for name, body := range tests {
		if _, err := lambdaevents.ParseNotification([]byte(body)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestSQSEvent(t *testing.T) {
	msgs := []types.Message{{
		MessageId:     aws.String("059f36b4-87a3-44ab-83d2-661975830a7d"),
		ReceiptHandle: aws.String("AQEB1"),
		Body:          aws.String("hello from /orders/42"),
		MD5OfBody:     aws.String("9d6f1c7c1a8a3f6a5a0e6b1b0a1e2f3d"),
		Attributes: map[string]string{
			"ApproximateReceiveCount": "1",
			"AWSTraceHeader":          "Root=1-674a8c00-5759e988bd862e3fe1be46a9;Parent=6a0a44d5e7c8f0b1;Sampled=1",
		},
		MessageAttributes: map[string]types.MessageAttributeValue{
			"color": {DataType: aws.String("String"), StringValue: aws.String("blue")},
		},
	}}
	ev := lambdaevents.SQSEvent(msgs, "arn:aws:sqs:eu-west-1:123456789012:hello-queue", "eu-west-1")
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	// The keys Lambda's SQS event uses, as in the repository's
	// testdata/events/sqs-batch.json.
	for _, key := range []string{`"messageId":"059f36b4`, `"receiptHandle":"AQEB1"`, `"eventSource":"aws:sqs"`, `"eventSourceARN":"arn:aws:sqs:eu-west-1:123456789012:hello-queue"`, `"awsRegion":"eu-west-1"`, `"AWSTraceHeader":"Root=1-`, `"stringValue":"blue"`, `"dataType":"String"`, `"stringListValues":[]`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("event JSON lacks %s:\n%s", key, b)
		}
	}
	var back events.SQSEvent
	if err := json.Unmarshal(b, &back); err != nil || len(back.Records) != 1 || back.Records[0].Body != "hello from /orders/42" {
		t.Errorf("round trip = %+v, %v", back, err)
	}
}
