package xrayview

import (
	"cmp"
	"reflect"
	"slices"
	"time"
)

// Status is how the console classes a segment or a trace: ok, or the kind of
// failure X-Ray records (error for 4xx, fault for 5xx, throttle for 429).
type Status string

// The statuses, from the segment document's error, fault and throttle flags.
const (
	StatusOK       Status = "ok"
	StatusError    Status = "error"
	StatusFault    Status = "fault"
	StatusThrottle Status = "throttle"
)

// statusOf classes one segment. A throttle is also an error in the document
// (429 is a 4xx), so it is checked before error; a fault outweighs both.
func statusOf(s Segment) Status {
	switch {
	case s.Fault:
		return StatusFault
	case s.Throttle:
		return StatusThrottle
	case s.Error:
		return StatusError
	}
	return StatusOK
}

// TraceSummary is a row of the trace list, with the fields X-Ray's
// TraceSummary gives them (https://docs.aws.amazon.com/xray/latest/api/API_TraceSummary.html):
// Duration spans the earliest start to the last end; ResponseTime, the HTTP
// fields and Status come from the root segment (HasFault and HasError are
// the root's, HasThrottle any segment's). FaultNodes and ErrorNodes name the
// nodes that failed anywhere in the trace, where the console's root cause
// analysis points: an asynchronous fan-out's failures never reach its root.
type TraceSummary struct {
	ID             string           `json:"id"`
	StartTime      time.Time        `json:"startTime"`
	DurationMs     float64          `json:"durationMs"`
	ResponseTimeMs float64          `json:"responseTimeMs"`
	Status         Status           `json:"status"`
	Partial        bool             `json:"partial,omitempty"` // a segment is still in progress
	Root           string           `json:"root"`              // the root segment's node
	Method         string           `json:"method,omitempty"`
	URL            string           `json:"url,omitempty"`
	ResponseCode   int              `json:"responseCode,omitempty"`
	Annotations    map[string][]any `json:"annotations"` // key → every distinct value in the trace
	FaultNodes     []string         `json:"faultNodes,omitempty"`
	ErrorNodes     []string         `json:"errorNodes,omitempty"`
	Segments       int              `json:"segments"` // documents and embedded subsegments
}

// Summaries groups documents by trace and summarizes the traces that pass f
// (nil passes all), newest first (by start time).
func Summaries(docs []Segment, f *Filter) []TraceSummary {
	byTrace := map[string][]Segment{}
	for _, d := range docs {
		byTrace[d.TraceID] = append(byTrace[d.TraceID], d)
	}
	out := []TraceSummary{}
	for _, tdocs := range byTrace {
		s := summarize(tdocs)
		if f.Match(s.Annotations) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b TraceSummary) int {
		return cmp.Or(b.StartTime.Compare(a.StartTime), cmp.Compare(a.ID, b.ID))
	})
	return out
}

func summarize(docs []Segment) TraceSummary {
	all := Flatten(docs)
	s := TraceSummary{ID: docs[0].TraceID, Annotations: map[string][]any{}, Segments: len(all)}
	start, end := 0.0, 0.0
	ids := map[string]bool{}
	for _, d := range all {
		ids[d.ID] = true
	}
	var root *Segment
	faults, errs := map[string]bool{}, map[string]bool{}
	for i, d := range all {
		if start == 0 || d.StartTime < start {
			start = d.StartTime
		}
		end = max(end, d.EndTime)
		if d.InProgress {
			s.Partial = true
		}
		if d.Throttle {
			s.Status = StatusThrottle
		}
		for k, v := range d.Annotations {
			if !slices.ContainsFunc(s.Annotations[k], func(have any) bool { return reflect.DeepEqual(have, v) }) {
				s.Annotations[k] = append(s.Annotations[k], v)
			}
		}
		if !isSegment(d) && d.Namespace == "" {
			continue // a span inside a function: its failure shows on the function's node
		}
		if d.Fault {
			faults[nodeOf(d).String()] = true
		} else if d.Error || d.Throttle {
			errs[nodeOf(d).String()] = true
		}
		// The root is the earliest segment whose parent is not in the trace.
		if isSegment(d) && !ids[d.ParentID] && (root == nil || d.StartTime < root.StartTime) {
			root = &all[i]
		}
	}
	s.StartTime = epoch(start)
	if end > start {
		s.DurationMs = millis(end - start)
	}
	s.FaultNodes = sortedKeys(faults)
	s.ErrorNodes = sortedKeys(errs)
	if root == nil {
		root = &all[0]
	}
	s.Root = nodeOf(*root).String()
	if d, ok := root.duration(); ok {
		s.ResponseTimeMs = float64(d.Microseconds()) / 1e3
	}
	switch {
	case root.Fault:
		s.Status = StatusFault
	case root.Error && s.Status != StatusThrottle:
		s.Status = StatusError
	case s.Status == "":
		s.Status = StatusOK
	}
	if h := root.HTTP; h != nil {
		if h.Request != nil {
			s.Method, s.URL = h.Request.Method, h.Request.URL
		}
		if h.Response != nil {
			s.ResponseCode = h.Response.Status
		}
	}
	return s
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// epoch converts a segment document's seconds since the epoch to a time.
func epoch(s float64) time.Time { return time.Unix(0, 0).Add(seconds(s)).UTC() }

// millis converts seconds to milliseconds, to the microsecond.
func millis(s float64) float64 { return float64(seconds(s).Microseconds()) / 1e3 }

// Timeline is one trace as the console's timeline shows it: every segment
// and subsegment as a row, each under its parent, with what the console
// shows when a row is chosen.
type Timeline struct {
	TraceID    string       `json:"traceId"`
	StartTime  time.Time    `json:"startTime"`
	DurationMs float64      `json:"durationMs"`
	Summary    TraceSummary `json:"summary"`
	Rows       []Row        `json:"rows"`
}

// Row is a segment or subsegment of a Timeline.
type Row struct {
	ID         string  `json:"id"`
	ParentID   string  `json:"parentId,omitempty"`
	Depth      int     `json:"depth"`
	Name       string  `json:"name"`
	Segment    bool    `json:"segment"`             // a segment (a node of the map), else a subsegment
	Origin     string  `json:"origin,omitempty"`    // a segment's type, e.g. AWS::Lambda::Function
	Namespace  string  `json:"namespace,omitempty"` // a subsegment's: aws, remote or none
	Node       string  `json:"node,omitempty"`      // the map node this row stands for, if any
	OffsetMs   float64 `json:"offsetMs"`            // start, from the trace's start
	DurationMs float64 `json:"durationMs"`
	InProgress bool    `json:"inProgress,omitempty"`
	Status     Status  `json:"status"`

	ResourceARN string                    `json:"resourceArn,omitempty"`
	HTTP        *HTTP                     `json:"http,omitempty"`
	AWS         *AWS                      `json:"aws,omitempty"`
	Annotations map[string]any            `json:"annotations,omitempty"`
	Metadata    map[string]map[string]any `json:"metadata,omitempty"`
	Cause       *Cause                    `json:"cause,omitempty"`
	Links       []Link                    `json:"links,omitempty"`
}

// BuildTimeline lays out one trace's documents (segments and subsegments
// sent on their own, as they arrived) as a tree: each row follows its parent,
// siblings by start time. A row whose parent is not in the trace (the root,
// or a consumer linked from another trace) starts a tree of its own.
func BuildTimeline(docs []Segment) Timeline {
	all := Flatten(docs)
	t := Timeline{Summary: summarize(docs)}
	t.TraceID, t.StartTime, t.DurationMs = t.Summary.ID, t.Summary.StartTime, t.Summary.DurationMs
	start := float64(t.StartTime.UnixMicro()) / 1e6

	byID := map[string]int{}
	for i, d := range all {
		byID[d.ID] = i
	}
	children := map[string][]int{}
	var roots []int
	for i, d := range all {
		if _, ok := byID[d.ParentID]; ok && d.ParentID != d.ID {
			children[d.ParentID] = append(children[d.ParentID], i)
		} else {
			roots = append(roots, i)
		}
	}
	byStart := func(a, b int) int {
		return cmp.Or(cmp.Compare(all[a].StartTime, all[b].StartTime), cmp.Compare(a, b))
	}
	slices.SortFunc(roots, byStart)
	seen := map[int]bool{}
	var walk func(i, depth int)
	walk = func(i, depth int) {
		if seen[i] { // a cycle of parent IDs: show each document once
			return
		}
		seen[i] = true
		t.Rows = append(t.Rows, row(all[i], depth, start))
		kids := children[all[i].ID]
		slices.SortFunc(kids, byStart)
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	for i := range all { // documents only reachable through a cycle
		walk(i, 0)
	}
	return t
}

func row(d Segment, depth int, traceStart float64) Row {
	r := Row{
		ID: d.ID, ParentID: d.ParentID, Depth: depth, Name: d.Name,
		Segment: isSegment(d), Origin: d.Origin, Namespace: d.Namespace,
		OffsetMs: millis(d.StartTime - traceStart), InProgress: d.InProgress, Status: statusOf(d),
		ResourceARN: d.ResourceARN, HTTP: d.HTTP, AWS: d.AWS,
		Annotations: d.Annotations, Metadata: d.Metadata, Cause: d.Cause, Links: d.Links,
	}
	if dur, ok := d.duration(); ok {
		r.DurationMs = float64(dur.Microseconds()) / 1e3
	}
	if r.Segment || d.Namespace == "aws" || d.Namespace == "remote" {
		r.Node = nodeOf(d).String()
	}
	return r
}
