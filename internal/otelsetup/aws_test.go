package otelsetup_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest/awstest"
)

// TestAWSConfigSpansCarryWhatTheExporterReads checks each AWS call's span for
// the attributes the awsxray exporter needs to show it as an "aws"
// subsegment named after the service, with its operation and resource.
func TestAWSConfigSpansCarryWhatTheExporterReads(t *testing.T) {
	const queueURL = "https://sqs.eu-west-1.amazonaws.com/123456789012/hello-queue"
	const topicARN = "arn:aws:sns:eu-west-1:123456789012:second-topic"
	tests := []struct {
		name string
		call func(context.Context, aws.Config) error
		span string
		want map[string]any
	}{
		{
			name: "DynamoDB UpdateItem",
			call: func(ctx context.Context, cfg aws.Config) error {
				_, err := dynamodb.NewFromConfig(cfg).UpdateItem(ctx, &dynamodb.UpdateItemInput{
					TableName: aws.String("Hits"),
					Key:       map[string]types.AttributeValue{"path": &types.AttributeValueMemberS{Value: "/"}},
				})
				return err
			},
			span: "DynamoDB.UpdateItem",
			want: map[string]any{"aws.service": "DynamoDB", "aws.operation": "UpdateItem", "aws.table_name": "Hits"},
		},
		{
			name: "SQS SendMessage",
			call: func(ctx context.Context, cfg aws.Config) error {
				_, err := sqs.NewFromConfig(cfg).SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queueURL), MessageBody: aws.String("hi")})
				return err
			},
			span: "SQS.SendMessage",
			want: map[string]any{"aws.service": "SQS", "aws.operation": "SendMessage", "aws.queue_url": queueURL},
		},
		{
			name: "SNS Publish",
			call: func(ctx context.Context, cfg aws.Config) error {
				_, err := sns.NewFromConfig(cfg).Publish(ctx, &sns.PublishInput{TopicArn: aws.String(topicARN), Message: aws.String("hi")})
				return err
			},
			span: "SNS.Publish",
			want: map[string]any{"aws.service": "SNS", "aws.operation": "Publish", "aws.sns.topic.arn": topicARN},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, exp := otelsetuptest.New(t)
			srv := awstest.New(t)
			cfg := srv.Config(t, tr.AWSConfig)

			ctx, parent := tr.TracerProvider().Tracer("test").Start(context.Background(), "parent")
			if err := tt.call(ctx, cfg); err != nil {
				t.Fatalf("call: %v", err)
			}
			parent.End()
			tr.Flush(context.Background())

			s := otelsetuptest.One(t, exp.GetSpans(), tt.span)
			if s.SpanKind != trace.SpanKindClient {
				t.Errorf("kind = %v, want client", s.SpanKind)
			}
			if s.Parent.SpanID() != parent.SpanContext().SpanID() {
				t.Errorf("the call's span is not a child of the caller's span")
			}
			want := map[string]any{
				"rpc.system":     "aws-api",
				"rpc.service":    tt.want["aws.service"],
				"aws.region":     awstest.Region,
				"aws.request_id": awstest.RequestID(1),
			}
			for k, v := range tt.want {
				want[k] = v
			}
			for key, v := range want {
				if got, ok := otelsetuptest.Attr(s, key); !ok || got.AsInterface() != v {
					t.Errorf("%s = %v, want %v", key, got.AsInterface(), v)
				}
			}
			if got, ok := otelsetuptest.Attr(s, "http.response.status_code"); !ok || got.AsInt64() != 200 {
				t.Errorf("http.response.status_code = %v, want the integer 200", got.AsInterface())
			}

			// The request carries the X-Ray header naming the call's span, and
			// only that header: AWS services read no W3C context.
			req := srv.Requests()[0]
			wantHeader := "Root=1-" + s.SpanContext.TraceID().String()[:8] + "-" + s.SpanContext.TraceID().String()[8:] +
				";Parent=" + s.SpanContext.SpanID().String() + ";Sampled=1"
			if got := req.Header.Get("X-Amzn-Trace-Id"); got != wantHeader {
				t.Errorf("X-Amzn-Trace-Id = %q, want %q", got, wantHeader)
			}
			if got := req.Header.Get("Traceparent"); got != "" {
				t.Errorf("traceparent = %q sent to AWS, want none", got)
			}
		})
	}
}

func TestAWSConfigFailsFast(t *testing.T) {
	tr, exp := otelsetuptest.New(t)
	srv := awstest.New(t)
	srv.Fail("SendMessage", awstest.Error{Status: 500, Code: "InternalError", Message: "try again"})
	cfg := srv.Config(t, tr.AWSConfig)

	_, err := sqs.NewFromConfig(cfg).SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String("https://q"), MessageBody: aws.String("hi")})
	if err == nil || !strings.Contains(err.Error(), "InternalError") {
		t.Fatalf("error = %v, want the service's InternalError", err)
	}
	if got := len(srv.Requests()); got != 3 {
		t.Errorf("made %d attempts at a failing call, want 3", got)
	}
	tr.Flush(context.Background())
	s := otelsetuptest.One(t, exp.GetSpans(), "SQS.SendMessage")
	if got, _ := otelsetuptest.Attr(s, "http.response.status_code"); got.AsInt64() != 500 {
		t.Errorf("http.response.status_code = %v, want 500 (a fault on X-Ray)", got.AsInterface())
	}
}
