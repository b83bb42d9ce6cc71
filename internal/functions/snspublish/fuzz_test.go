package snspublish_test

import (
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/xray-tracer/xray-tracer/internal/functions/snspublish"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest/awstest"
)

// FuzzInvoke: any payload, the sample events of every AWS service among
// them, gets an answer or an error with its invocation span, never a panic.
func FuzzInvoke(f *testing.F) {
	otelsetuptest.FuzzInvocations(f, func(t testing.TB, tr *otelsetup.Tracing) lambda.Handler {
		srv := awstest.New(t)
		h := &snspublish.Handler{Topic: sns.NewFromConfig(srv.Config(t, tr.AWSConfig)), TopicARN: topicARN}
		return otelsetup.Wrap(tr, h.Handle)
	})
}
