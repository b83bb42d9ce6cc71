// Package functions_test fuzzes every handler of the pattern with the same
// payloads: what Lambda may deliver to a function, the sample events of every
// AWS service among them.
package functions_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/xray-tracer/xray-tracer/internal/functions/dynamo"
	"github.com/xray-tracer/xray-tracer/internal/functions/httpcall"
	"github.com/xray-tracer/xray-tracer/internal/functions/snspublish"
	"github.com/xray-tracer/xray-tracer/internal/functions/snssubscribe"
	"github.com/xray-tracer/xray-tracer/internal/functions/sqssend"
	"github.com/xray-tracer/xray-tracer/internal/functions/sqssubscribe"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest/awstest"
)

// FuzzHandlers: any payload gets an answer or an error from each function,
// with its invocation span, never a panic.
func FuzzHandlers(f *testing.F) {
	otelsetuptest.FuzzInvocations(f, func(t testing.TB, tr *otelsetup.Tracing) map[string]lambda.Handler {
		srv := awstest.New(t)
		aws := srv.Config(t, tr.AWSConfig)
		target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		t.Cleanup(target.Close)
		return map[string]lambda.Handler{
			"dynamo": otelsetup.Wrap(tr, (&dynamo.Handler{DB: dynamodb.NewFromConfig(aws), Table: "Hits"}).Handle),
			"http":   otelsetup.Wrap(tr, (&httpcall.Handler{Client: tr.HTTPClient(), URL: target.URL}).Handle),
			"sqs": otelsetup.Wrap(tr, (&sqssend.Handler{
				Queue: sqs.NewFromConfig(aws), QueueURL: "https://sqs.eu-west-1.amazonaws.com/123456789012/hello-queue",
			}).Handle),
			"sqs-subscribe": otelsetup.Wrap(tr, sqssubscribe.Handler{}.Handle),
			"sns-publish": otelsetup.Wrap(tr, (&snspublish.Handler{
				Topic: sns.NewFromConfig(aws), TopicARN: "arn:aws:sns:eu-west-1:123456789012:second-topic",
			}).Handle),
			"sns-subscribe": otelsetup.Wrap(tr, snssubscribe.Handler{}.Handle),
		}
	})
}
