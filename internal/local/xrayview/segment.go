package xrayview

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"time"
)

// Segment is one segment or subsegment document as PutTraceSegments receives
// it, decoded into the fields the console shows and the tests assert; Raw
// keeps the whole document as received, including the fields not decoded here.
//
// Segment documents: https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html
type Segment struct {
	Name      string `json:"name"`
	ID        string `json:"id"`
	TraceID   string `json:"trace_id,omitempty"`
	ParentID  string `json:"parent_id,omitempty"`
	Type      string `json:"type,omitempty"` // "subsegment" for a subsegment sent on its own
	Namespace string `json:"namespace,omitempty"`
	Origin    string `json:"origin,omitempty"`
	// ResourceARN is set on segments of AWS resources, such as a Lambda function.
	ResourceARN string `json:"resource_arn,omitempty"`

	StartTime  float64 `json:"start_time"` // seconds since the epoch
	EndTime    float64 `json:"end_time,omitempty"`
	InProgress bool    `json:"in_progress,omitempty"`

	Error    bool   `json:"error,omitempty"`    // a client error (4xx)
	Fault    bool   `json:"fault,omitempty"`    // a server error (5xx)
	Throttle bool   `json:"throttle,omitempty"` // throttled (429)
	Cause    *Cause `json:"cause,omitempty"`

	HTTP        *HTTP                     `json:"http,omitempty"`
	AWS         *AWS                      `json:"aws,omitempty"`
	Annotations map[string]any            `json:"annotations,omitempty"`
	Metadata    map[string]map[string]any `json:"metadata,omitempty"`
	Links       []Link                    `json:"links,omitempty"`
	Subsegments []Segment                 `json:"subsegments,omitempty"`

	// Raw is the document as received (for an embedded subsegment, its part
	// of the enclosing document). A Segment built in code has none; writers
	// then marshal its fields.
	Raw json.RawMessage `json:"-"`
}

// Cause records why a segment failed. A document gives it either as an object
// or as the 16-digit ID of an exception recorded in a subsegment; the latter
// decodes into ExceptionID alone.
type Cause struct {
	ExceptionID      string      `json:"-"`
	WorkingDirectory string      `json:"working_directory,omitempty"`
	Paths            []string    `json:"paths,omitempty"`
	Exceptions       []Exception `json:"exceptions,omitempty"`
}

// Exception is one exception of a Cause.
type Exception struct {
	ID        string       `json:"id,omitempty"`
	Message   string       `json:"message,omitempty"`
	Type      string       `json:"type,omitempty"`
	Remote    bool         `json:"remote,omitempty"`
	Truncated int          `json:"truncated,omitempty"`
	Skipped   int          `json:"skipped,omitempty"`
	Cause     string       `json:"cause,omitempty"` // ID of the exception's parent
	Stack     []StackFrame `json:"stack,omitempty"`
}

// StackFrame is one frame of an Exception's stack.
type StackFrame struct {
	Path  string `json:"path,omitempty"`
	Line  int    `json:"line,omitempty"`
	Label string `json:"label,omitempty"`
}

// HTTP is a segment's http object: the request served or, in a subsegment,
// the request made.
type HTTP struct {
	Request  *HTTPRequest  `json:"request,omitempty"`
	Response *HTTPResponse `json:"response,omitempty"`
}

// HTTPRequest is the request half of HTTP.
type HTTPRequest struct {
	Method        string `json:"method,omitempty"`
	URL           string `json:"url,omitempty"`
	UserAgent     string `json:"user_agent,omitempty"`
	ClientIP      string `json:"client_ip,omitempty"`
	XForwardedFor bool   `json:"x_forwarded_for,omitempty"`
	Traced        bool   `json:"traced,omitempty"`
}

// HTTPResponse is the response half of HTTP.
type HTTPResponse struct {
	Status        int `json:"status,omitempty"`
	ContentLength any `json:"content_length,omitempty"` // a number, or a string from some senders
}

// AWS is a segment's aws object: the resource that recorded the segment, or in
// a subsegment the AWS API call made.
type AWS struct {
	Operation   string `json:"operation,omitempty"`
	Region      string `json:"region,omitempty"`
	RequestID   string `json:"request_id,omitempty"`
	TableName   string `json:"table_name,omitempty"`
	QueueURL    string `json:"queue_url,omitempty"`
	AccountID   string `json:"account_id,omitempty"`
	FunctionARN string `json:"function_arn,omitempty"`
	Retries     int    `json:"retries,omitempty"`
}

// Link is a span link, which the awsxray exporter writes as "links".
type Link struct {
	TraceID    string         `json:"trace_id"`
	ID         string         `json:"id"`
	Attributes map[string]any `json:"attributes,omitempty"`
}

// Flatten returns every segment and every embedded subsegment, depth first in
// document order. An embedded subsegment does not repeat its trace ID, parent
// or type; its copy in the result gets them from the enclosing document
// (type "subsegment"), so callers can treat both forms alike.
func Flatten(segs []Segment) []Segment {
	var out []Segment
	var walk func(s Segment)
	walk = func(s Segment) {
		out = append(out, s)
		for _, sub := range s.Subsegments {
			if sub.TraceID == "" {
				sub.TraceID = s.TraceID
			}
			if sub.ParentID == "" {
				sub.ParentID = s.ID
			}
			if sub.Type == "" {
				sub.Type = "subsegment"
			}
			walk(sub)
		}
	}
	for _, s := range segs {
		walk(s)
	}
	return out
}

// UnmarshalJSON decodes a document and keeps it in Raw.
func (s *Segment) UnmarshalJSON(data []byte) error {
	type plain Segment // without this method
	var p plain
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	p.Raw = append(json.RawMessage(nil), data...)
	*s = Segment(p)
	return nil
}

// UnmarshalJSON accepts both documented forms of cause.
func (c *Cause) UnmarshalJSON(data []byte) error {
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte(`"`)) {
		*c = Cause{}
		return json.Unmarshal(data, &c.ExceptionID)
	}
	type plain Cause
	var p plain
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	*c = Cause(p)
	return nil
}

// MarshalJSON writes a Cause that holds only an exception ID in its string form.
func (c Cause) MarshalJSON() ([]byte, error) {
	if c.ExceptionID != "" && c.WorkingDirectory == "" && len(c.Paths) == 0 && len(c.Exceptions) == 0 {
		return json.Marshal(c.ExceptionID)
	}
	type plain Cause
	return json.Marshal(plain(c))
}

// DecodeDocument decodes one element of PutTraceSegments'
// TraceSegmentDocuments: a segment document or, as the API reference allows,
// a JSON array of them.
//
// API reference: https://docs.aws.amazon.com/xray/latest/api/API_PutTraceSegments.html
func DecodeDocument(doc []byte) ([]Segment, error) {
	trimmed := bytes.TrimSpace(doc)
	if bytes.HasPrefix(trimmed, []byte("[")) {
		var segs []Segment
		if err := json.Unmarshal(trimmed, &segs); err != nil {
			return nil, fmt.Errorf("xrayview: segment documents: %w", err)
		}
		return segs, nil
	}
	var s Segment
	if err := json.Unmarshal(trimmed, &s); err != nil {
		return nil, fmt.Errorf("xrayview: segment document: %w", err)
	}
	return []Segment{s}, nil
}

// ReadJSONLines reads segment documents written one JSON line each, as
// WriteJSONLines (and make xray-segments) writes them. Blank lines are
// skipped; a line that does not decode is an error naming its number.
func ReadJSONLines(r io.Reader) ([]Segment, error) {
	var docs []Segment
	sc := bufio.NewScanner(r)
	// A document holds a whole segment with its subsegments and stacks;
	// PutTraceSegments accepts documents up to 64 KB, with room to spare.
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		segs, err := DecodeDocument(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		docs = append(docs, segs...)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("xrayview: reading segment documents: %w", err)
	}
	return docs, nil
}

// WriteJSONLines writes each document as received (its fields marshalled when
// it has no Raw), one compact JSON line each, to file.
func WriteJSONLines(file string, docs []Segment) error {
	var b bytes.Buffer
	for _, d := range docs {
		raw := d.Raw
		if len(raw) == 0 {
			var err error
			if raw, err = json.Marshal(d); err != nil {
				return fmt.Errorf("segment %s: %w", d.ID, err)
			}
		}
		if err := json.Compact(&b, raw); err != nil {
			return fmt.Errorf("segment %s: %w", d.ID, err)
		}
		b.WriteByte('\n')
	}
	if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}

// duration is how long the segment took; false while it is in progress or
// when its times make no sense.
func (s Segment) duration() (time.Duration, bool) {
	if s.InProgress || s.EndTime <= 0 || s.EndTime < s.StartTime {
		return 0, false
	}
	return seconds(s.EndTime - s.StartTime), true
}

// seconds converts a segment document's seconds to a Duration, rounded to the
// microsecond the documents carry.
func seconds(s float64) time.Duration {
	return time.Duration(math.Round(s*1e6)) * time.Microsecond
}
