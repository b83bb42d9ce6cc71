package xrayview

import (
	"slices"
	"testing"
)

// TestSummariesOfRecording lists the recorded traces as the console would:
// the five requests' traces and the five traces sqs-subscribe starts (linked
// to their producers), newest first; the root's status (the API answered
// 200) with the http function's faults named.
func TestSummariesOfRecording(t *testing.T) {
	docs := recording(t)
	all := Summaries(docs, nil)
	if len(all) != 10 {
		t.Fatalf("%d traces, want 10", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].StartTime.After(all[i-1].StartTime) {
			t.Errorf("trace %d starts after trace %d: not newest first", i, i-1)
		}
	}
	tests := []struct {
		filter string
		want   int
	}{
		{`annotation.path = "/hello"`, 2},
		{`annotation.path = "/a/b"`, 1},
		{`annotation.Service = "sqs-subscribe"`, 5},
		{`annotation.ColdStart = true`, 2}, // the first request's and sqs-subscribe's first
		{`annotation.path = "/nowhere"`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			f, err := ParseFilter(tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if got := Summaries(docs, f); len(got) != tt.want {
				t.Errorf("%d traces, want %d", len(got), tt.want)
			}
		})
	}

	f, _ := ParseFilter(`annotation.path = "/a/b"`)
	s := Summaries(docs, f)[0]
	if s.Status != StatusOK || s.Method != "GET" || s.ResponseCode != 200 || s.Root != "xray-tracer-api/prod (AWS::ApiGateway::Stage)" {
		t.Errorf("summary %+v, want the API's GET answered 200, ok", s)
	}
	if !slices.Equal(s.FaultNodes, []string{"http (AWS::Lambda::Function)"}) {
		t.Errorf("fault nodes %v, want the http function", s.FaultNodes)
	}
	if s.DurationMs < s.ResponseTimeMs || s.ResponseTimeMs <= 0 {
		t.Errorf("duration %v, response time %v: want 0 < response time <= duration", s.DurationMs, s.ResponseTimeMs)
	}
}

func TestSummaryStatus(t *testing.T) {
	root := func(mut ...func(*Segment)) Segment { return seg("api", "a000000000000001", "", 1, 2, mut...) }
	child := func(mut ...func(*Segment)) Segment {
		return seg("fn", "b000000000000001", "a000000000000001", 1.1, 1.5, append(mut, origin("AWS::Lambda::Function"))...)
	}
	tests := []struct {
		name string
		docs []Segment
		want Status
	}{
		{"all ok", []Segment{root(), child()}, StatusOK},
		{"root fault", []Segment{root(func(s *Segment) { s.Fault = true }), child()}, StatusFault},
		{"root error", []Segment{root(func(s *Segment) { s.Error = true }), child()}, StatusError},
		{"a fault below the root leaves it ok", []Segment{root(), child(func(s *Segment) { s.Fault = true })}, StatusOK},
		{"a throttle anywhere", []Segment{root(), child(func(s *Segment) { s.Throttle, s.Error = true, true })}, StatusThrottle},
		{"root fault outweighs a throttle", []Segment{root(func(s *Segment) { s.Fault = true }), child(func(s *Segment) { s.Throttle = true })}, StatusFault},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := summarize(tt.docs).Status; got != tt.want {
				t.Errorf("status %q, want %q", got, tt.want)
			}
		})
	}
}

// TestTimelineOfRecording lays out one request's trace: the API stage first,
// every document once, each under its parent, and the http function's
// failure with its exception and stack.
func TestTimelineOfRecording(t *testing.T) {
	docs := recording(t)
	f, _ := ParseFilter(`annotation.path = "/a/b"`)
	id := Summaries(docs, f)[0].ID
	var tdocs []Segment
	for _, d := range docs {
		if d.TraceID == id {
			tdocs = append(tdocs, d)
		}
	}
	tl := BuildTimeline(tdocs)
	if n := len(Flatten(tdocs)); len(tl.Rows) != n {
		t.Errorf("%d rows, want one per document (%d)", len(tl.Rows), n)
	}
	if r := tl.Rows[0]; r.Name != "xray-tracer-api/prod" || r.Depth != 0 || r.OffsetMs != 0 || r.HTTP == nil {
		t.Errorf("first row %+v, want the API stage at depth 0, offset 0, with its http", r)
	}
	depth := map[string]int{}
	for i, r := range tl.Rows {
		depth[r.ID] = r.Depth
		if i > 0 && r.Depth > 0 && depth[r.ParentID] != r.Depth-1 {
			t.Errorf("row %d %q at depth %d does not follow its parent", i, r.Name, r.Depth)
		}
	}
	var failed *Row
	for i, r := range tl.Rows {
		if r.Status == StatusFault && r.Cause != nil && len(r.Cause.Exceptions) > 0 {
			failed = &tl.Rows[i]
			break
		}
	}
	if failed == nil {
		t.Fatal("no faulted row with an exception")
	}
	e := failed.Cause.Exceptions[0]
	if e.Type != "httpcall.SimulatedFailure" || len(e.Stack) == 0 || failed.Annotations["Service"] != "http" {
		t.Errorf("failed row %q: exception %s %q with %d frames, annotations %v", failed.Name, e.Type, e.Message, len(e.Stack), failed.Annotations)
	}
	var sawAWS bool
	for _, r := range tl.Rows {
		if r.Namespace == "aws" && r.Name == "DynamoDB" {
			sawAWS = r.AWS != nil && r.AWS.Operation == "UpdateItem" && r.AWS.TableName != "" && r.AWS.Region != ""
		}
	}
	if !sawAWS {
		t.Error("no DynamoDB row with operation UpdateItem, table and region")
	}
}

func TestTimelineSurvivesParentCycles(t *testing.T) {
	docs := []Segment{
		seg("a", "a000000000000001", "b000000000000001", 1, 2, origin("x")),
		seg("b", "b000000000000001", "a000000000000001", 1, 2, origin("x")),
	}
	if rows := BuildTimeline(docs).Rows; len(rows) != 2 {
		t.Errorf("%d rows, want each document once", len(rows))
	}
}
