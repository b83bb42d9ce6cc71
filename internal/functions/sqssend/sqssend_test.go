package sqssend_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/xray-tracer/xray-tracer/internal/functions/sqssend"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest/awstest"
)

const queueURL = "https://sqs.eu-west-1.amazonaws.com/123456789012/hello-queue"

func TestHandle(t *testing.T) {
	event := otelsetuptest.ReadEvent(t, "sns-fanout.json")
	tests := []struct {
		name     string
		event    []byte
		fail     bool
		wantErr  string
		wantSent int
		wantTree string
	}{
		{
			name:     "sends one greeting",
			event:    event,
			wantSent: 1,
			wantTree: `svc internal {ColdStart=true, Service=svc}
  SQS Logic internal {message=hello from /orders/42}
    SQS.SendMessage client
`,
		},
		{
			name:     "queue missing",
			event:    event,
			fail:     true,
			wantErr:  `send "hello from /orders/42" to ` + queueURL,
			wantSent: 1,
			wantTree: `svc internal {ColdStart=true, Service=svc} ERROR
  SQS Logic internal {message=hello from /orders/42} ERROR
    SQS.SendMessage client ERROR
`,
		},
		{
			name:     "malformed event",
			event:    []byte(`[1,2]`),
			wantErr:  "decode events.SNSEvent event",
			wantTree: "svc internal {ColdStart=true, Service=svc} ERROR\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("OTEL_SERVICE_NAME", "svc")
			tr, exp := otelsetuptest.New(t)
			srv := awstest.New(t)
			if tt.fail {
				srv.Fail("SendMessage", awstest.Error{Status: 400, Code: "QueueDoesNotExist", Message: "The specified queue does not exist."})
			}
			h := &sqssend.Handler{Queue: sqs.NewFromConfig(srv.Config(t, tr.AWSConfig)), QueueURL: queueURL}

			res, err := otelsetuptest.Invoke[sqssend.Result](t, otelsetuptest.InvocationContext("req-1", otelsetuptest.TraceHeader), otelsetup.Wrap(tr, h.Handle), tt.event)
			otelsetuptest.CheckError(t, err, nil, tt.wantErr)
			otelsetuptest.CheckTree(t, exp.GetSpans(), tt.wantTree)
			reqs := srv.Requests()
			if len(reqs) != tt.wantSent {
				t.Fatalf("%d SendMessage calls, want %d (the original sent each message twice)", len(reqs), tt.wantSent)
			}
			if tt.wantSent == 0 {
				return
			}
			r := reqs[0]
			if r.JSON["QueueUrl"] != queueURL || r.JSON["MessageBody"] != "hello from /orders/42" || r.JSON["DelaySeconds"] != float64(sqssend.DelaySeconds) {
				t.Errorf("SendMessage %v, want the greeting to %s with a 1 s delay", r.JSON, queueURL)
			}
			// SQS sets the message's AWSTraceHeader from this header.
			send := otelsetuptest.One(t, exp.GetSpans(), "SQS.SendMessage")
			if got := r.Header.Get("X-Amzn-Trace-Id"); !strings.Contains(got, "Parent="+send.SpanContext.SpanID().String()) {
				t.Errorf("X-Amzn-Trace-Id = %q, want the SendMessage span as parent", got)
			}
			if !tt.fail && (len(res.MessageIDs) != 1 || res.MessageIDs[0] == "") {
				t.Errorf("result = %+v, want the message ID", res)
			}
		})
	}
}
