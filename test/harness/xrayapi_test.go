package harness

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

const testAuthorization = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/xray/aws4_request, " +
	"SignedHeaders=content-type;host;x-amz-date, Signature=0123456789abcdef"

// segmentDoc returns a minimal valid segment document with the given ID.
func segmentDoc(id string) string {
	return `{"name":"fn","id":"` + id + `","trace_id":"1-66f0a1b2-0123456789abcdef01234567","start_time":1727000000.1,"end_time":1727000000.2}`
}

// putBody builds a PutTraceSegments request body from documents.
func putBody(docs ...string) string {
	b, _ := json.Marshal(map[string][]string{"TraceSegmentDocuments": docs}) // cannot fail
	return string(b)
}

func TestXRayPutTraceSegments(t *testing.T) {
	tests := []struct {
		name            string
		method, path    string
		auth            string
		body            string
		wantStatus      int
		wantErrorType   string // X-Amzn-ErrorType and __type of an error answer
		wantKept        []string
		wantUnprocessed []string // ErrorCode of each refused document
	}{
		{
			name:       "keeps one segment",
			body:       putBody(segmentDoc("0000000000000001")),
			wantStatus: http.StatusOK,
			wantKept:   []string{"0000000000000001"},
		},
		{
			name:       "keeps every document of a batch in order",
			body:       putBody(segmentDoc("0000000000000001"), segmentDoc("0000000000000002")),
			wantStatus: http.StatusOK,
			wantKept:   []string{"0000000000000001", "0000000000000002"},
		},
		{
			name: "keeps a subsegment sent on its own",
			body: putBody(`{"type":"subsegment","parent_id":"0000000000000001","name":"DynamoDB","id":"0000000000000002",` +
				`"trace_id":"1-66f0a1b2-0123456789abcdef01234567","start_time":1727000000.1,"in_progress":true}`),
			wantStatus: http.StatusOK,
			wantKept:   []string{"0000000000000002"},
		},
		{
			name:       "keeps each element of an array document",
			body:       putBody("[" + segmentDoc("0000000000000003") + "," + segmentDoc("0000000000000004") + "]"),
			wantStatus: http.StatusOK,
			wantKept:   []string{"0000000000000003", "0000000000000004"},
		},
		{
			name:       "accepts an empty batch",
			body:       `{"TraceSegmentDocuments":[]}`,
			wantStatus: http.StatusOK,
		},
		{
			name:            "reports a document that is not JSON and keeps the rest",
			body:            putBody("{not json", segmentDoc("0000000000000005")),
			wantStatus:      http.StatusOK,
			wantKept:        []string{"0000000000000005"},
			wantUnprocessed: []string{"InvalidDocument"},
		},
		{
			name:            "reports a segment without end_time or in_progress",
			body:            putBody(`{"name":"fn","id":"0000000000000006","trace_id":"1-66f0a1b2-0123456789abcdef01234567","start_time":1727000000.1}`),
			wantStatus:      http.StatusOK,
			wantUnprocessed: []string{"InvalidSegment"},
		},
		{
			name:            "reports a W3C trace ID not converted to X-Ray's form",
			body:            putBody(strings.Replace(segmentDoc("0000000000000007"), "1-66f0a1b2-0123456789abcdef01234567", "66f0a1b20123456789abcdef01234567", 1)),
			wantStatus:      http.StatusOK,
			wantUnprocessed: []string{"InvalidSegment"},
		},
		{
			name:            "reports a subsegment sent on its own without parent_id",
			body:            putBody(strings.Replace(segmentDoc("0000000000000008"), `{`, `{"type":"subsegment",`, 1)),
			wantStatus:      http.StatusOK,
			wantUnprocessed: []string{"InvalidSegment"},
		},
		{
			name:            "reports an embedded subsegment without id",
			body:            putBody(strings.Replace(segmentDoc("0000000000000009"), `}`, `,"subsegments":[{"name":"x","start_time":1,"end_time":2}]}`, 1)),
			wantStatus:      http.StatusOK,
			wantUnprocessed: []string{"InvalidSegment"},
		},
		{
			name:            "reports a field of the wrong type",
			body:            putBody(strings.Replace(segmentDoc("000000000000000a"), `"start_time":1727000000.1`, `"start_time":"soon"`, 1)),
			wantStatus:      http.StatusOK,
			wantUnprocessed: []string{"InvalidDocument"},
		},
		{
			name:          "refuses a request without Authorization",
			auth:          "-",
			body:          putBody(segmentDoc("0000000000000001")),
			wantStatus:    http.StatusForbidden,
			wantErrorType: "MissingAuthenticationTokenException",
		},
		{
			name:          "refuses a signature for another service",
			auth:          strings.Replace(testAuthorization, "/xray/", "/s3/", 1),
			body:          putBody(segmentDoc("0000000000000001")),
			wantStatus:    http.StatusForbidden,
			wantErrorType: "InvalidSignatureException",
		},
		{
			name:          "refuses an Authorization that is not SigV4",
			auth:          "Basic dXNlcjpwYXNz",
			body:          putBody(segmentDoc("0000000000000001")),
			wantStatus:    http.StatusForbidden,
			wantErrorType: "InvalidSignatureException",
		},
		{
			name:          "refuses a SigV4 Authorization with a malformed scope",
			auth:          "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/xray, Signature=00",
			body:          putBody(segmentDoc("0000000000000001")),
			wantStatus:    http.StatusForbidden,
			wantErrorType: "IncompleteSignatureException",
		},
		{
			name:          "refuses a body that is not JSON",
			body:          `TraceSegmentDocuments=x`,
			wantStatus:    http.StatusBadRequest,
			wantErrorType: "InvalidRequestException",
		},
		{
			name:          "refuses a body without TraceSegmentDocuments",
			body:          `{}`,
			wantStatus:    http.StatusBadRequest,
			wantErrorType: "InvalidRequestException",
		},
		{
			name:          "refuses documents that are not strings",
			body:          `{"TraceSegmentDocuments":[{"name":"fn"}]}`,
			wantStatus:    http.StatusBadRequest,
			wantErrorType: "InvalidRequestException",
		},
		{
			name:          "refuses an empty body",
			body:          ``,
			wantStatus:    http.StatusBadRequest,
			wantErrorType: "InvalidRequestException",
		},
		{
			name:          "refuses another path",
			path:          "/TraceSegment",
			body:          putBody(segmentDoc("0000000000000001")),
			wantStatus:    http.StatusNotFound,
			wantErrorType: "UnknownOperationException",
		},
		{
			name:          "refuses another method",
			method:        http.MethodGet,
			wantStatus:    http.StatusMethodNotAllowed,
			wantErrorType: "UnknownOperationException",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := &XRay{changed: make(chan struct{})}
			method, path, auth := tt.method, tt.path, tt.auth
			if method == "" {
				method = http.MethodPost
			}
			if path == "" {
				path = "/TraceSegments"
			}
			req := httptest.NewRequest(method, path, strings.NewReader(tt.body))
			switch auth {
			case "":
				req.Header.Set("Authorization", testAuthorization)
			case "-":
			default:
				req.Header.Set("Authorization", auth)
			}
			rec := httptest.NewRecorder()
			x.handler().ServeHTTP(rec, req)

			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if tt.wantErrorType != "" {
				var body struct {
					Type    string `json:"__type"`
					Message string `json:"message"`
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
					t.Fatalf("error body %q: %v", rec.Body, err)
				}
				if got := rec.Header().Get("X-Amzn-ErrorType"); got != tt.wantErrorType || body.Type != tt.wantErrorType {
					t.Errorf("error type = header %q, body %q; want %q", got, body.Type, tt.wantErrorType)
				}
				if body.Message == "" {
					t.Error("error body has no message")
				}
				if len(x.Segments()) != 0 {
					t.Errorf("kept %d segments from a refused request", len(x.Segments()))
				}
				return
			}

			var out struct {
				UnprocessedTraceSegments []UnprocessedTraceSegment
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
				t.Fatalf("response %q: %v", rec.Body, err)
			}
			if out.UnprocessedTraceSegments == nil {
				t.Errorf("response %s: UnprocessedTraceSegments should be a list, even when empty", rec.Body)
			}
			var codes []string
			for _, u := range out.UnprocessedTraceSegments {
				codes = append(codes, u.ErrorCode)
				if u.Message == "" {
					t.Errorf("unprocessed %+v has no message", u)
				}
			}
			if !reflect.DeepEqual(codes, tt.wantUnprocessed) {
				t.Errorf("unprocessed codes = %q, want %q", codes, tt.wantUnprocessed)
			}
			if got := len(x.Unprocessed()); got != len(tt.wantUnprocessed) {
				t.Errorf("Unprocessed() has %d, want %d", got, len(tt.wantUnprocessed))
			}
			var ids []string
			for _, s := range x.Segments() {
				ids = append(ids, s.ID)
				if len(s.Raw) == 0 {
					t.Errorf("segment %s has no Raw document", s.ID)
				}
			}
			if !reflect.DeepEqual(ids, tt.wantKept) {
				t.Errorf("kept %q, want %q", ids, tt.wantKept)
			}
		})
	}
}

// TestXRayOverHTTP drives the stand-in through a real listener, as the
// collector's exporter does.
func TestXRayOverHTTP(t *testing.T) {
	x, err := NewXRay()
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if !strings.HasPrefix(x.URL(), "http://127.0.0.1:") {
		t.Errorf("URL() = %q, want http://127.0.0.1:<port>", x.URL())
	}

	req, err := http.NewRequest(http.MethodPost, x.URL()+"/TraceSegments", strings.NewReader(putBody(segmentDoc("0000000000000001"))))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", testAuthorization)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	if got := x.Segments(); len(got) != 1 || got[0].ID != "0000000000000001" {
		t.Errorf("Segments() = %+v, want the segment put", got)
	}
	if err := x.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	if len(x.Segments()) != 1 {
		t.Error("segments are gone after Close")
	}
}

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
		{"cause stack", s.Cause.Exceptions[0].Stack, []StackFrame{{Path: "internal/dynamo/handler.go", Line: 42, Label: "Handler.Handle"}}},
		{"cause working_directory", s.Cause.WorkingDirectory, "/var/task"},
		{"aws.account_id", s.AWS.AccountID, "123456789012"},
		{"aws.function_arn", s.AWS.FunctionARN, "arn:aws:lambda:eu-west-1:123456789012:function:dynamo"},
		{"annotations", s.Annotations, map[string]any{"path": "/hello", "ColdStart": true, "attempt": 2.0}},
		{"metadata", s.Metadata, map[string]map[string]any{"default": {"faas.name": "dynamo"}}},
		{"links", s.Links, []Link{{TraceID: "1-66f0a1b0-fedcba9876543210fedcba98", ID: "1111111111111111", Attributes: map[string]any{"messaging.system": "aws_sqs"}}}},
		{"subsegment namespace", dynamo.Namespace, "aws"},
		{"subsegment cause as exception ID", *dynamo.Cause, Cause{ExceptionID: "0a1b2c3d4e5f6a7b"}},
		{"subsegment aws", *dynamo.AWS, AWS{Operation: "UpdateItem", Region: "eu-west-1", RequestID: "R3Q0EXAMPLE", TableName: "Hits", Retries: 1}},
		{"subsegment http.response.status", dynamo.HTTP.Response.Status, 500},
		{"subsegment http.response.content_length", dynamo.HTTP.Response.ContentLength, 58.0},
		{"subsegment Raw", json.Valid(dynamo.Raw) && strings.Contains(string(dynamo.Raw), `"UpdateItem"`), true},
		{"nested subsegment http.request", *remote.HTTP.Request, HTTPRequest{Method: "GET", URL: "https://example.com/api"}},
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
			var c Cause
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
			for _, f := range Flatten(tt.in) {
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

func TestXRayAddResetSegments(t *testing.T) {
	tests := []struct {
		name    string
		add     []Segment
		reset   bool
		wantIDs []string
	}{
		{"add keeps in order", []Segment{{Name: "a", ID: "1"}, {Name: "b", ID: "2"}}, false, []string{"1", "2"}},
		{"reset forgets", []Segment{{Name: "a", ID: "1"}}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := &XRay{changed: make(chan struct{})}
			x.Add(tt.add...)
			if tt.reset {
				x.Reset()
			}
			got := x.Segments()
			var ids []string
			for _, s := range got {
				ids = append(ids, s.ID)
				var back Segment
				if err := json.Unmarshal(s.Raw, &back); err != nil || back.ID != s.ID {
					t.Errorf("Raw of an added segment = %s (%v), want its marshalled fields", s.Raw, err)
				}
			}
			if !reflect.DeepEqual(ids, tt.wantIDs) {
				t.Errorf("ids = %q, want %q", ids, tt.wantIDs)
			}
			if len(got) > 0 {
				got[0].ID = "changed"
				if x.Segments()[0].ID == "changed" {
					t.Error("Segments() does not return a copy")
				}
			}
		})
	}
}

func TestXRayWaitFor(t *testing.T) {
	hasTwo := func(segs []Segment) bool { return len(segs) >= 2 }
	tests := []struct {
		name    string
		before  int // segments added before waiting
		during  int // segments added while waiting
		wantErr bool
	}{
		{"already true", 2, 0, false},
		{"becomes true while waiting", 0, 2, false},
		{"never true", 1, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := &XRay{changed: make(chan struct{})}
			for range tt.before {
				x.Add(Segment{Name: "before", ID: "1"})
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if tt.wantErr {
				// Nothing more will arrive: end the wait at once rather than sleep.
				cancel()
			}
			go func() {
				for range tt.during {
					x.Add(Segment{Name: "during", ID: "2"})
				}
			}()
			err := x.WaitFor(ctx, hasTwo)
			if (err != nil) != tt.wantErr {
				t.Fatalf("WaitFor() = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "before(1)") {
				t.Errorf("error %q does not say which segments arrived", err)
			}
		})
	}
}

// FuzzXRayBody checks that no request body makes the stand-in panic or answer
// anything but 200 or 400.
func FuzzXRayBody(f *testing.F) {
	f.Add(putBody(segmentDoc("0000000000000001")))
	f.Add(`{"TraceSegmentDocuments":["[1,2]","{\"subsegments\":[{\"cause\":5}]}","null","\"x\""]}`)
	f.Add(`{"TraceSegmentDocuments":null}`)
	f.Add(`[`)
	f.Fuzz(func(t *testing.T, body string) {
		x := &XRay{changed: make(chan struct{})}
		req := httptest.NewRequest(http.MethodPost, "/TraceSegments", strings.NewReader(body))
		req.Header.Set("Authorization", testAuthorization)
		rec := httptest.NewRecorder()
		x.handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Errorf("status %d for body %q", rec.Code, body)
		}
	})
}
