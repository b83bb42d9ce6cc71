package xrayapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
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
	x, err := New()
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
