package snspublish_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/xray-tracer/xray-tracer/internal/functions/snspublish"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest/awstest"
)

const topicARN = "arn:aws:sns:eu-west-1:123456789012:second-topic"

func TestHandle(t *testing.T) {
	event := otelsetuptest.ReadEvent(t, "sns-fanout.json")
	tests := []struct {
		name      string
		event     []byte
		fail      bool
		wantErr   string
		wantCalls int
		wantTree  string
	}{
		{
			name:      "publishes the simulated message",
			event:     event,
			wantCalls: 1,
			wantTree: `svc internal {ColdStart=true, Service=svc}
  SNS Publish Logic internal {message=Simulated Message}
    SNS.Publish client
`,
		},
		{
			name:      "topic missing",
			event:     event,
			fail:      true,
			wantErr:   "publish to " + topicARN,
			wantCalls: 1,
			wantTree: `svc internal {ColdStart=true, Service=svc} ERROR
  SNS Publish Logic internal {message=Simulated Message} ERROR
    SNS.Publish client ERROR
`,
		},
		{
			name:     "empty message",
			event:    []byte(`{"Records":[{"Sns":{"MessageId":"m-2","Message":""}}]}`),
			wantErr:  `SNS record 0 (message ID "m-2"): message "" is not a request path`,
			wantTree: "svc internal {ColdStart=true, Service=svc} ERROR\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("OTEL_SERVICE_NAME", "svc")
			tr, exp := otelsetuptest.New(t)
			srv := awstest.New(t)
			if tt.fail {
				srv.Fail("Publish", awstest.Error{Status: 404, Code: "NotFound", Message: "Topic does not exist"})
			}
			h := &snspublish.Handler{Topic: sns.NewFromConfig(srv.Config(t, tr.AWSConfig)), TopicARN: topicARN}

			res, err := otelsetuptest.Invoke[snspublish.Result](t, otelsetuptest.InvocationContext("req-1", otelsetuptest.TraceHeader), otelsetup.Wrap(tr, h.Handle), tt.event)
			otelsetuptest.CheckError(t, err, nil, tt.wantErr)
			otelsetuptest.CheckTree(t, exp.GetSpans(), tt.wantTree)
			reqs := srv.Requests()
			if len(reqs) != tt.wantCalls {
				t.Fatalf("%d Publish calls, want %d", len(reqs), tt.wantCalls)
			}
			if tt.wantCalls == 0 {
				return
			}
			if f := reqs[0].Form; f.Get("TopicArn") != topicARN || f.Get("Message") != snspublish.Message {
				t.Errorf("Publish %v, want %q to %s", f, snspublish.Message, topicARN)
			}
			if !strings.HasPrefix(reqs[0].Header.Get("X-Amzn-Trace-Id"), "Root=1-674a8c00-") {
				t.Errorf("Publish without the trace header: SNS could not pass the trace on")
			}
			step := otelsetuptest.One(t, exp.GetSpans(), snspublish.SubsegmentName)
			if p, ok := otelsetuptest.Attr(step, "path"); ok {
				t.Errorf("the received message recorded as %q = %q: a body goes only into the annotation the pattern defines (message)", "path", p.AsString())
			}
			if !tt.fail && len(res.MessageIDs) != 1 {
				t.Errorf("result = %+v, want one message ID", res)
			}
		})
	}
}
