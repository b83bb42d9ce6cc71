package snssubscribe_test

import (
	"testing"

	"github.com/xray-tracer/xray-tracer/internal/functions/fanout"
	"github.com/xray-tracer/xray-tracer/internal/functions/snssubscribe"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest"
)

func TestHandle(t *testing.T) {
	event := otelsetuptest.ReadEvent(t, "sns-second-topic.json")
	tests := []struct {
		name     string
		event    []byte
		wantErr  error
		wantText string
		wantTree string
	}{
		{
			name:  "processes the message",
			event: event,
			wantTree: `svc internal {ColdStart=true, Service=svc}
  process_message internal {message_content=Simulated Message}
`,
		},
		{
			name:     "no records",
			event:    []byte(`{}`),
			wantErr:  fanout.ErrNoRecords,
			wantTree: "svc internal {ColdStart=true, Service=svc} ERROR\n",
		},
		{
			name:     "malformed event",
			event:    []byte(`{"Records":[{"Sns":{"Message":7}}]}`),
			wantText: "decode events.SNSEvent event",
			wantTree: "svc internal {ColdStart=true, Service=svc} ERROR\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("OTEL_SERVICE_NAME", "svc")
			tr, exp := otelsetuptest.New(t)
			res, err := otelsetuptest.Invoke[snssubscribe.Result](t, otelsetuptest.InvocationContext("req-1", otelsetuptest.TraceHeader), otelsetup.Wrap(tr, snssubscribe.Handler{}.Handle), tt.event)
			otelsetuptest.CheckError(t, err, tt.wantErr, tt.wantText)
			otelsetuptest.CheckTree(t, exp.GetSpans(), tt.wantTree)
			if tt.wantErr != nil || tt.wantText != "" {
				return
			}
			if len(res.Messages) != 1 || res.Messages[0] != "Simulated Message" {
				t.Errorf("result = %+v", res)
			}
			step := otelsetuptest.One(t, exp.GetSpans(), snssubscribe.SubsegmentName)
			for key, want := range map[string]string{
				"topic_arn":  "arn:aws:sns:eu-west-1:123456789012:second-topic",
				"message_id": "3f1c2b8e-6d4a-5e7f-9a0b-1c2d3e4f5a6b",
			} {
				if v, _ := otelsetuptest.Attr(step, key); v.AsString() != want {
					t.Errorf("metadata %s = %q, want %q", key, v.AsString(), want)
				}
			}
		})
	}
}
