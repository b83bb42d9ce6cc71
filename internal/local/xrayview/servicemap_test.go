package xrayview

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from what the tests see")

// recording is testdata/segments.jsonl: the documents make xray-segments
// recorded through the real collector for five requests, with the http
// function failing on purpose (-failure-rate 0.7; all five failed).
func recording(t *testing.T) []Segment {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "segments.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	docs, err := ReadJSONLines(f)
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s changed:\n%s\nwant:\n%s", name, got, want)
	}
}

// TestServiceMapOfRecording draws the recorded pattern's map: every function
// twice (Lambda's service and function nodes), the calls downstream, the
// http function's faults.
func TestServiceMapOfRecording(t *testing.T) {
	m := BuildServiceMap(recording(t))
	golden(t, "servicemap.golden", m.Text())
	if st := m.Nodes[Node{"http", "AWS::Lambda::Function"}]; st.Faults != 5 || st.Count != 5 {
		t.Errorf("http function: %+v, want 5 requests, 5 faults", st)
	}
}

func seg(name, id, parent string, start, end float64, mut ...func(*Segment)) Segment {
	s := Segment{Name: name, ID: id, TraceID: "1-00000001-000000000000000000000001", ParentID: parent, StartTime: start, EndTime: end}
	for _, m := range mut {
		m(&s)
	}
	return s
}

func origin(o string) func(*Segment) { return func(s *Segment) { s.Origin = o } }

// TestServiceMapStatsAndView checks what a node and an edge show: requests,
// the average of the ended ones, and the ring's shares, with a throttle
// counted as a throttle rather than also as an error.
func TestServiceMapStatsAndView(t *testing.T) {
	api := origin("AWS::ApiGateway::Stage")
	docs := []Segment{
		seg("api", "a000000000000001", "", 10, 10.100, api),
		seg("api", "a000000000000002", "", 20, 20.300, api, func(s *Segment) { s.Fault = true }),
		seg("api", "a000000000000003", "", 30, 30.200, api, func(s *Segment) { s.Error, s.Throttle = true, true }),
		seg("api", "a000000000000004", "", 40, 0, api, func(s *Segment) { s.InProgress, s.Error = true, true }),
	}
	m := BuildServiceMap(docs)
	apiNode := Node{"api", "AWS::ApiGateway::Stage"}
	st := m.Nodes[apiNode]
	want := Stats{Count: 4, Errors: 2, Faults: 1, Throttles: 1, Timed: 3, TotalTime: 600 * time.Millisecond}
	if st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	if got := st.AverageTime(); got != 200*time.Millisecond {
		t.Errorf("AverageTime = %v, want 200ms", got)
	}
	if e := m.Edges[Edge{Client, apiNode}]; e.Count != 4 {
		t.Errorf("client edge %+v, want 4 requests", e)
	}

	v := m.View()
	if len(v.Nodes) != 2 || !v.Nodes[0].Client || v.Nodes[0].Count != 4 {
		t.Fatalf("nodes %+v, want the client (4 requests) then api", v.Nodes)
	}
	n := v.Nodes[1]
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"average", n.AverageMs, 200},
		{"ok", n.OKShare, 0.25},
		{"error", n.ErrorShare, 0.25},
		{"fault", n.FaultShare, 0.25},
		{"throttle", n.ThrottleShare, 0.25},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if n.Status != StatusFault {
		t.Errorf("status %q, want fault (the worst seen)", n.Status)
	}
	if len(v.Edges) != 1 || v.Edges[0].From != "client (client)" || v.Edges[0].To != "api (AWS::ApiGateway::Stage)" {
		t.Errorf("edges %+v", v.Edges)
	}
}
