package xrayapi

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/xray-tracer/xray-tracer/internal/local/xrayview"
)

// The documents the stand-in keeps decode as X-Ray's segment document
// reference describes them (testdata/segment.json holds each documented
// field), and flatten as the fidelity tests walk them.
func TestSegmentDecodesDocumentedFields(t *testing.T) {
	raw, err := os.ReadFile("testdata/segment.json")
	if err != nil {
		t.Fatal(err)
	}
	var s Segment
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	if err := validate(s, true); err != nil {
		t.Errorf("sample document does not validate: %v", err)
	}
	if string(s.Raw) != strings.TrimSpace(string(raw)) {
		t.Error("Raw is not the document as received")
	}
	if len(s.Subsegments) != 1 || len(s.Subsegments[0].Subsegments) != 1 {
		t.Fatalf("subsegments not decoded: %+v", s.Subsegments)
	}
	dynamo, remote := s.Subsegments[0], s.Subsegments[0].Subsegments[0]

	tests := []struct {
		name      string
		got, want any
	}{
		{"name", s.Name, "dynamo"},
		{"id", s.ID, "6e7d3a1f0b2c4d5e"},
		{"trace_id", s.TraceID, "1-66f0a1b2-0123456789abcdef01234567"},
		{"parent_id", s.ParentID, "53995c3f42cd8ad8"},
		{"origin", s.Origin, "AWS::Lambda::Function"},
		{"resource_arn", s.ResourceARN, "arn:aws:lambda:eu-west-1:123456789012:function:dynamo"},
		{"start_time", s.StartTime, 1727000000.123},
		{"end_time", s.EndTime, 1727000000.456},
		{"fault", s.Fault, true},
		{"cause exception", s.Cause.Exceptions[0].Message, "table Hits is not reachable"},
		{"cause stack", s.Cause.Exceptions[0].Stack, []xrayview.StackFrame{{Path: "internal/dynamo/handler.go", Line: 42, Label: "Handler.Handle"}}},
		{"cause working_directory", s.Cause.WorkingDirectory, "/var/task"},
		{"aws.account_id", s.AWS.AccountID, "123456789012"},
		{"aws.function_arn", s.AWS.FunctionARN, "arn:aws:lambda:eu-west-1:123456789012:function:dynamo"},
		{"annotations", s.Annotations, map[string]any{"path": "/hello", "ColdStart": true, "attempt": 2.0}},
		{"metadata", s.Metadata, map[string]map[string]any{"default": {"faas.name": "dynamo"}}},
		{"links", s.Links, []xrayview.Link{{TraceID: "1-66f0a1b0-fedcba9876543210fedcba98", ID: "1111111111111111", Attributes: map[string]any{"messaging.system": "aws_sqs"}}}},
		{"subsegment namespace", dynamo.Namespace, "aws"},
		{"subsegment cause as exception ID", *dynamo.Cause, xrayview.Cause{ExceptionID: "0a1b2c3d4e5f6a7b"}},
		{"subsegment aws", *dynamo.AWS, xrayview.AWS{Operation: "UpdateItem", Region: "eu-west-1", RequestID: "R3Q0EXAMPLE", TableName: "Hits", Retries: 1}},
		{"subsegment http.response.status", dynamo.HTTP.Response.Status, 500},
		{"subsegment http.response.content_length", dynamo.HTTP.Response.ContentLength, 58.0},
		{"subsegment Raw", json.Valid(dynamo.Raw) && strings.Contains(string(dynamo.Raw), `"UpdateItem"`), true},
		{"nested subsegment http.request", *remote.HTTP.Request, xrayview.HTTPRequest{Method: "GET", URL: "https://example.com/api"}},
		{"nested subsegment error", remote.Error, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
}

func TestCauseRoundTrips(t *testing.T) {
	tests := []struct {
		name string
		json string
	}{
		{"exception ID", `"0a1b2c3d4e5f6a7b"`},
		{"object", `{"working_directory":"/var/task","exceptions":[{"id":"0a1b2c3d4e5f6a7b","message":"boom","type":"string"}]}`},
		{"empty object", `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c xrayview.Cause
			if err := json.Unmarshal([]byte(tt.json), &c); err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.json {
				t.Errorf("round trip = %s, want %s", got, tt.json)
			}
		})
	}
}

func TestFlatten(t *testing.T) {
	raw, err := os.ReadFile("testdata/segment.json")
	if err != nil {
		t.Fatal(err)
	}
	var s Segment
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	separate := Segment{Name: "SQS", ID: "9999999999999999", TraceID: "1-66f0a1b2-0123456789abcdef01234567", ParentID: "6e7d3a1f0b2c4d5e", Type: "subsegment"}

	type row struct{ name, traceID, parentID, typ string }
	tests := []struct {
		name string
		in   []Segment
		want []row
	}{
		{"nothing", nil, nil},
		{
			name: "embedded subsegments inherit trace, parent and type",
			in:   []Segment{s, separate},
			want: []row{
				{"dynamo", "1-66f0a1b2-0123456789abcdef01234567", "53995c3f42cd8ad8", ""},
				{"DynamoDB", "1-66f0a1b2-0123456789abcdef01234567", "6e7d3a1f0b2c4d5e", "subsegment"},
				{"external HTTP Request", "1-66f0a1b2-0123456789abcdef01234567", "7f8e9d0c1b2a3948", "subsegment"},
				{"SQS", "1-66f0a1b2-0123456789abcdef01234567", "6e7d3a1f0b2c4d5e", "subsegment"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []row
			for _, f := range xrayview.Flatten(tt.in) {
				got = append(got, row{f.Name, f.TraceID, f.ParentID, f.Type})
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Flatten =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
	if s.Subsegments[0].TraceID != "" {
		t.Error("Flatten changed its input")
	}
}
