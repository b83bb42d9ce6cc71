package dynamo_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/xray-tracer/xray-tracer/internal/functions/dynamo"
	"github.com/xray-tracer/xray-tracer/internal/functions/fanout"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest/awstest"
)

func TestHandle(t *testing.T) {
	fanoutEvent := otelsetuptest.ReadEvent(t, "sns-fanout.json")
	tests := []struct {
		name     string
		event    string
		fail     *awstest.Error
		wantErr  error  // matched with errors.Is, when set
		wantText string // in the error, when set
		wantCall bool
		wantTree string
	}{
		{
			name:     "counts a hit",
			event:    string(fanoutEvent),
			wantCall: true,
			wantTree: `test-function internal {ColdStart=true, Service=test-function}
  DynamoDB Query internal {path=/orders/42}
    DynamoDB.UpdateItem client
`,
		},
		{
			name:     "table missing",
			event:    string(fanoutEvent),
			fail:     &awstest.Error{Status: 400, Code: "ResourceNotFoundException", Message: "Requested resource not found"},
			wantText: "add a hit for \"/orders/42\" in table Hits",
			wantCall: true,
			wantTree: `test-function internal {ColdStart=true, Service=test-function} ERROR
  DynamoDB Query internal {path=/orders/42} ERROR
    DynamoDB.UpdateItem client ERROR
`,
		},
		{
			name:     "no records",
			event:    `{"Records":[]}`,
			wantErr:  fanout.ErrNoRecords,
			wantTree: "test-function internal {ColdStart=true, Service=test-function} ERROR\n",
		},
		{
			name:     "message is not a path",
			event:    `{"Records":[{"Sns":{"MessageId":"m-1","Message":"orders"}}]}`,
			wantText: `SNS record 0 (message ID "m-1"): message "orders" is not a request path`,
			wantTree: "test-function internal {ColdStart=true, Service=test-function} ERROR\n",
		},
		{
			name:     "malformed event",
			event:    `{"Records":{"Sns":1}}`,
			wantText: "decode events.SNSEvent event",
			wantTree: "test-function internal {ColdStart=true, Service=test-function} ERROR\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("OTEL_SERVICE_NAME", "test-function")
			tr, exp := otelsetuptest.New(t)
			srv := awstest.New(t)
			if tt.fail != nil {
				srv.Fail("UpdateItem", *tt.fail)
			}
			h := &dynamo.Handler{DB: dynamodb.NewFromConfig(srv.Config(t, tr.AWSConfig)), Table: "Hits"}

			res, err := otelsetuptest.Invoke[dynamo.Result](t, otelsetuptest.InvocationContext("req-1", otelsetuptest.TraceHeader), otelsetup.Wrap(tr, h.Handle), []byte(tt.event))

			wantFail := tt.wantErr != nil || tt.wantText != ""
			if (err != nil) != wantFail ||
				(tt.wantErr != nil && !errors.Is(err, tt.wantErr)) ||
				(tt.wantText != "" && !strings.Contains(err.Error(), tt.wantText)) {
				t.Fatalf("error = %v, want %v %q", err, tt.wantErr, tt.wantText)
			}
			otelsetuptest.CheckTree(t, exp.GetSpans(), tt.wantTree)
			reqs := srv.Requests()
			if !tt.wantCall {
				if len(reqs) != 0 {
					t.Errorf("made %d AWS calls for a bad event, want none", len(reqs))
				}
				return
			}
			if len(reqs) != 1 {
				t.Fatalf("made %d AWS calls, want 1 UpdateItem", len(reqs))
			}
			assertUpdateItem(t, reqs[0])
			if err == nil && (len(res.Hits) != 1 || res.Hits[0] != (dynamo.Hit{Path: "/orders/42", Hits: 1})) {
				t.Errorf("result = %+v, want one hit of /orders/42", res)
			}
		})
	}
}

func assertUpdateItem(t *testing.T, req awstest.Request) {
	t.Helper()
	if req.Operation != "UpdateItem" || req.JSON["TableName"] != "Hits" || req.JSON["UpdateExpression"] != "ADD hits :one" {
		t.Errorf("call = %s %v, want UpdateItem on Hits adding one hit", req.Operation, req.JSON)
	}
	key, _ := req.JSON["Key"].(map[string]any)
	if p, _ := key["path"].(map[string]any); p["S"] != "/orders/42" {
		t.Errorf("key = %v, want path /orders/42", key)
	}
	if got := req.Header.Get("X-Amzn-Trace-Id"); !strings.HasPrefix(got, "Root=1-674a8c00-5759e988bd862e3fe1be46a9;Parent=") {
		t.Errorf("X-Amzn-Trace-Id = %q, want the invocation's trace", got)
	}
}

func TestHandleCountsEveryHit(t *testing.T) {
	tr, _ := otelsetuptest.New(t)
	srv := awstest.New(t)
	h := &dynamo.Handler{DB: dynamodb.NewFromConfig(srv.Config(t, tr.AWSConfig)), Table: "Hits"}
	invoke := otelsetup.Wrap(tr, h.Handle)
	event := otelsetuptest.ReadEvent(t, "sns-fanout.json")
	for want := int64(1); want <= 3; want++ {
		res, err := otelsetuptest.Invoke[dynamo.Result](t, otelsetuptest.InvocationContext("req", otelsetuptest.TraceHeader), invoke, event)
		if err != nil || len(res.Hits) != 1 || res.Hits[0].Hits != want {
			t.Fatalf("invocation %d = %+v, %v; want hits %d", want, res, err, want)
		}
	}
}
