package snssubscribe_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest"
	"github.com/xray-tracer/xray-tracer/internal/snssubscribe"
)

const header = "Root=1-674a8c00-5759e988bd862e3fe1be46a9;Parent=53995c3f42cd8ad8;Sampled=1"

func TestHandle(t *testing.T) {
	event, err := os.ReadFile("../../testdata/events/sns-second-topic.json")
	if err != nil {
		t.Fatal(err)
	}
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
			wantTree: `svc internal {cold_start=true, service=svc}
  process_message internal {message_content=Simulated Message}
`,
		},
		{
			name:     "no records",
			event:    []byte(`{}`),
			wantErr:  snssubscribe.ErrNoRecords,
			wantTree: "svc internal {cold_start=true, service=svc} ERROR\n",
		},
		{
			name:     "malformed event",
			event:    []byte(`{"Records":[{"Sns":{"Message":7}}]}`),
			wantText: "decode events.SNSEvent event",
			wantTree: "svc internal {cold_start=true, service=svc} ERROR\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("OTEL_SERVICE_NAME", "svc")
			tr, exp := otelsetuptest.New(t)
			res, err := otelsetup.Wrap(tr, snssubscribe.Handler{}.Handle)(otelsetuptest.InvocationContext("req-1", header), tt.event)
			wantFail := tt.wantErr != nil || tt.wantText != ""
			if (err != nil) != wantFail || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) ||
				(tt.wantText != "" && !strings.Contains(err.Error(), tt.wantText)) {
				t.Fatalf("error = %v, want %v %q", err, tt.wantErr, tt.wantText)
			}
			if got := otelsetuptest.Tree(exp.GetSpans()); got != tt.wantTree {
				t.Errorf("span tree:\n%s\nwant:\n%s", got, tt.wantTree)
			}
			if wantFail {
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
