// Package xrayapi stands in for AWS X-Ray's PutTraceSegments API, on
// loopback: the endpoint the awsxray exporter of the real collector sends
// its segment documents to, in the fidelity harness (which asserts on what it
// keeps) and in the local runner (which hands them to the X-Ray view's Store).
package xrayapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/xray-tracer/xray-tracer/internal/local/sandbox"
	"github.com/xray-tracer/xray-tracer/internal/local/xrayview"
)

// Segment is a segment document as PutTraceSegments receives it.
type Segment = xrayview.Segment

// XRay stands in for AWS X-Ray's PutTraceSegments API on 127.0.0.1 and keeps
// every segment document it accepts, so tests can assert on what X-Ray would
// have received. Point the awsxray exporter's endpoint at URL.
//
// API reference: https://docs.aws.amazon.com/xray/latest/api/API_PutTraceSegments.html
// Segment documents: https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html
//
// What it checks and what it does not:
//   - The Authorization header must be a SigV4 header scoped to service
//     "xray". The signature itself is not verified: the stand-in has no
//     secret to verify it with, and the SDK's signer is not what is under test.
//   - A body that is not {"TraceSegmentDocuments":[string, ...]} is refused
//     with 400 InvalidRequestException, as X-Ray does.
//   - Each document must carry the fields the API reference lists as required
//     (name, id, trace_id, start_time, end_time or in_progress; parent_id for
//     a subsegment sent on its own) in the documented formats. A document that
//     fails is not kept but reported in UnprocessedTraceSegments and by
//     Unprocessed. X-Ray does not publish its full set of checks, so a document
//     kept here could still be refused by X-Ray; the ErrorCode values are this
//     stand-in's own.
type XRay struct {
	ln  net.Listener
	srv *http.Server

	// sink, if set, takes the accepted documents instead of segments.
	sink func(...Segment)

	mu          sync.Mutex
	segments    []Segment
	unprocessed []UnprocessedTraceSegment
	changed     chan struct{} // closed and replaced whenever segments change
}

// UnprocessedTraceSegment is a document the stand-in refused, as reported in
// the response's UnprocessedTraceSegments. Document is the refused document.
type UnprocessedTraceSegment struct {
	ID        string `json:"Id,omitempty"`
	ErrorCode string `json:"ErrorCode"`
	Message   string `json:"Message"`
	Document  string `json:"-"`
}

// maxBody bounds a request body. The API reference gives no request limit;
// this only keeps a runaway client from exhausting memory.
const maxBody = 32 << 20

// An Option configures an XRay.
type Option func(*XRay)

// SendTo hands every accepted document to add (such as an xrayview.Store's
// Add) instead of keeping it: a runner that serves for hours keeps its
// documents in a bounded Store, whereas the XRay's own list, which tests
// read whole, grows without bound. Segments and WaitFor then see none.
func SendTo(add func(...Segment)) Option {
	return func(x *XRay) { x.sink = add }
}

// New starts the stand-in on a random port of 127.0.0.1. Close stops it.
func New(opts ...Option) (*XRay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("xrayapi: X-Ray stand-in: %w", err)
	}
	x := &XRay{ln: ln, changed: make(chan struct{})}
	for _, o := range opts {
		o(x)
	}
	x.srv = &http.Server{Handler: x.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = x.srv.Serve(ln) }()
	return x, nil
}

// URL is the stand-in's endpoint, e.g. http://127.0.0.1:41234.
func (x *XRay) URL() string { return "http://" + x.ln.Addr().String() }

// Close stops the server. Kept segments stay readable.
func (x *XRay) Close() error { return x.srv.Close() }

// Segments returns a copy of the kept segment documents in arrival order.
// Their nested values are shared: treat them as read-only.
func (x *XRay) Segments() []Segment {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]Segment(nil), x.segments...)
}

// Unprocessed returns the documents refused so far.
func (x *XRay) Unprocessed() []UnprocessedTraceSegment {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]UnprocessedTraceSegment(nil), x.unprocessed...)
}

// Add keeps segments as if they had been put through the API, without
// checking them: the way to record segments X-Ray gets from elsewhere, such as
// the AWS::Lambda and AWS::Lambda::Function segments Lambda itself sends.
// A segment without Raw gets its marshalled fields as Raw.
func (x *XRay) Add(docs ...Segment) {
	for i := range docs {
		if len(docs[i].Raw) == 0 {
			raw, err := json.Marshal(docs[i])
			if err == nil {
				docs[i].Raw = raw
			}
		}
	}
	x.keep(docs, nil)
}

// Reset forgets every kept and refused document.
func (x *XRay) Reset() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.segments, x.unprocessed = nil, nil
	x.notifyLocked()
}

// WaitFor blocks until done reports true for the kept segments or ctx ends.
// Export is asynchronous, so tests wait for the documents they expect rather
// than sleeping. done is called with a copy, again after every change.
func (x *XRay) WaitFor(ctx context.Context, done func([]Segment) bool) error {
	for {
		x.mu.Lock()
		segs := append([]Segment(nil), x.segments...)
		changed := x.changed
		x.mu.Unlock()
		if done(segs) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("xrayapi: waiting for X-Ray segments (have %d: %s): %w",
				len(segs), summarize(segs), context.Cause(ctx))
		}
	}
}

func (x *XRay) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Amzn-RequestId", sandbox.NewRequestID())
		// X-Ray is a REST-JSON API: the operation is chosen by method and path.
		if r.URL.Path != "/TraceSegments" {
			awsError(w, http.StatusNotFound, "UnknownOperationException", "no operation at "+r.URL.Path)
			return
		}
		if r.Method != http.MethodPost {
			awsError(w, http.StatusMethodNotAllowed, "UnknownOperationException", "PutTraceSegments is POST /TraceSegments")
			return
		}
		if code, msg := checkAuthorization(r.Header.Get("Authorization")); code != "" {
			awsError(w, http.StatusForbidden, code, msg)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			awsError(w, http.StatusBadRequest, "InvalidRequestException", "reading the request body: "+err.Error())
			return
		}
		var in struct {
			TraceSegmentDocuments *[]string
		}
		if err := json.Unmarshal(body, &in); err != nil {
			awsError(w, http.StatusBadRequest, "InvalidRequestException", "the request body is not a PutTraceSegments request: "+err.Error())
			return
		}
		if in.TraceSegmentDocuments == nil {
			awsError(w, http.StatusBadRequest, "InvalidRequestException", "TraceSegmentDocuments is required")
			return
		}
		var kept []Segment
		unprocessed := []UnprocessedTraceSegment{} // [] rather than null, as X-Ray answers
		for _, doc := range *in.TraceSegmentDocuments {
			segs, bad := decodeDocument(doc)
			kept = append(kept, segs...)
			unprocessed = append(unprocessed, bad...)
		}
		x.keep(kept, unprocessed)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(struct {
			UnprocessedTraceSegments []UnprocessedTraceSegment
		}{unprocessed})
	})
}

func (x *XRay) keep(segs []Segment, bad []UnprocessedTraceSegment) {
	if len(segs) == 0 && len(bad) == 0 {
		return
	}
	if x.sink != nil && len(segs) > 0 {
		x.sink(segs...)
		segs = nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.segments = append(x.segments, segs...)
	x.unprocessed = append(x.unprocessed, bad...)
	x.notifyLocked()
}

func (x *XRay) notifyLocked() {
	close(x.changed)
	x.changed = make(chan struct{})
}

// checkAuthorization checks the shape of a SigV4 Authorization header, e.g.
// "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/xray/aws4_request,
// SignedHeaders=..., Signature=...", and that its scope names service xray.
// It returns an error code and message, or "" when the header is acceptable.
func checkAuthorization(h string) (code, msg string) {
	const prefix = "AWS4-HMAC-SHA256 Credential="
	if h == "" {
		return "MissingAuthenticationTokenException", "Missing Authentication Token"
	}
	if !strings.HasPrefix(h, prefix) {
		return "InvalidSignatureException", "Authorization header is not AWS Signature Version 4"
	}
	credential, _, _ := strings.Cut(h[len(prefix):], ",")
	// Credential is access-key/date/region/service/aws4_request.
	scope := strings.Split(strings.TrimSpace(credential), "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return "IncompleteSignatureException", "malformed Credential in Authorization header"
	}
	if scope[3] != "xray" {
		return "InvalidSignatureException", "Credential should be scoped to correct service: 'xray'."
	}
	return "", ""
}

// awsError answers with an error in the form of AWS's REST-JSON protocols: the
// error code in the X-Amzn-ErrorType header and the body's __type, and a message.
func awsError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}

var (
	segmentIDPattern = regexp.MustCompile(`^[0-9a-f]{16}$`)
	traceIDPattern   = regexp.MustCompile(`^1-[0-9a-f]{8}-[0-9a-f]{24}$`)
)

// decodeDocument decodes one element of TraceSegmentDocuments: a segment
// document or, as the API reference allows, an array of them.
func decodeDocument(doc string) ([]Segment, []UnprocessedTraceSegment) {
	trimmed := strings.TrimSpace(doc)
	refuse := func(id, code, msg string) []UnprocessedTraceSegment {
		return []UnprocessedTraceSegment{{ID: id, ErrorCode: code, Message: msg, Document: doc}}
	}
	var segs []Segment
	if strings.HasPrefix(trimmed, "[") {
		if err := json.Unmarshal([]byte(trimmed), &segs); err != nil {
			return nil, refuse("", "InvalidDocument", err.Error())
		}
	} else {
		var s Segment
		if err := json.Unmarshal([]byte(trimmed), &s); err != nil {
			return nil, refuse(peekID(trimmed), "InvalidDocument", err.Error())
		}
		segs = []Segment{s}
	}
	var kept []Segment
	var bad []UnprocessedTraceSegment
	for _, s := range segs {
		if err := validate(s, true); err != nil {
			bad = append(bad, refuse(s.ID, "InvalidSegment", err.Error())...)
			continue
		}
		kept = append(kept, s)
	}
	return kept, bad
}

// peekID finds the id of a document that does not decode as a Segment, for
// the UnprocessedTraceSegments entry.
func peekID(doc string) string {
	var v struct {
		ID any `json:"id"`
	}
	if json.Unmarshal([]byte(doc), &v) != nil {
		return ""
	}
	id, _ := v.ID.(string)
	return id
}

// validate checks the required fields of the segment document reference. A
// top-level document needs a trace ID; a subsegment sent on its own also
// needs its parent's ID. Embedded subsegments inherit both.
func validate(s Segment, topLevel bool) error {
	var errs []error
	if s.Name == "" {
		errs = append(errs, errors.New("name is required"))
	}
	if !segmentIDPattern.MatchString(s.ID) {
		errs = append(errs, fmt.Errorf("id %q is not 16 hexadecimal digits", s.ID))
	}
	if topLevel && !traceIDPattern.MatchString(s.TraceID) {
		errs = append(errs, fmt.Errorf("trace_id %q is not in the form 1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx", s.TraceID))
	}
	if topLevel && s.Type == "subsegment" && !segmentIDPattern.MatchString(s.ParentID) {
		errs = append(errs, fmt.Errorf("a subsegment sent on its own needs parent_id, got %q", s.ParentID))
	}
	if s.StartTime <= 0 {
		errs = append(errs, errors.New("start_time is required"))
	}
	if s.EndTime <= 0 && !s.InProgress {
		errs = append(errs, errors.New("end_time or in_progress is required"))
	}
	for _, sub := range s.Subsegments {
		if err := validate(sub, false); err != nil {
			errs = append(errs, fmt.Errorf("subsegment %q: %w", sub.ID, err))
		}
	}
	return errors.Join(errs...)
}

// summarize names segments for an error message, e.g. `dynamo(3) SNS(1)`.
func summarize(segs []Segment) string {
	if len(segs) == 0 {
		return "none"
	}
	var order []string
	count := map[string]int{}
	for _, s := range xrayview.Flatten(segs) {
		if count[s.Name] == 0 {
			order = append(order, s.Name)
		}
		count[s.Name]++
	}
	parts := make([]string, len(order))
	for i, name := range order {
		parts[i] = fmt.Sprintf("%s(%d)", name, count[name])
	}
	return strings.Join(parts, " ")
}
