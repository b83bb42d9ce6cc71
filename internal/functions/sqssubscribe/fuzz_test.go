package sqssubscribe_test

import (
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/xray-tracer/xray-tracer/internal/functions/sqssubscribe"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest"
)

// FuzzInvoke: any payload, the sample events of every AWS service among
// them, gets an answer or an error with its invocation span, never a panic.
func FuzzInvoke(f *testing.F) {
	otelsetuptest.FuzzInvocations(f, func(_ testing.TB, tr *otelsetup.Tracing) lambda.Handler {
		return otelsetup.Wrap(tr, sqssubscribe.Handler{}.Handle)
	})
}
