package xrayview

import (
	"fmt"
	"sync"
	"testing"
)

func traceDoc(trace, id int) Segment {
	return Segment{Name: "api", Origin: "AWS::ApiGateway::Stage", ID: fmt.Sprintf("%016x", id),
		TraceID: fmt.Sprintf("1-00000001-%024x", trace), StartTime: float64(trace), EndTime: float64(trace) + 0.5}
}

func TestStoreKeepsTheNewestTraces(t *testing.T) {
	s := NewStore(WithMaxTraces(3))
	for i := 1; i <= 5; i++ {
		s.Add(traceDoc(i, i))
	}
	s.Add(traceDoc(5, 50)) // a late document of a kept trace
	traces, err := s.Traces("")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, tr := range traces {
		ids = append(ids, tr.ID)
	}
	want := []string{traceDoc(5, 0).TraceID, traceDoc(4, 0).TraceID, traceDoc(3, 0).TraceID}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("kept %v, want the newest three %v", ids, want)
	}
	if _, ok := s.Trace(traceDoc(1, 0).TraceID); ok {
		t.Error("the oldest trace is still kept")
	}
	if tl, ok := s.Trace(traceDoc(5, 0).TraceID); !ok || len(tl.Rows) != 2 {
		t.Errorf("trace 5: %d rows, %v; want both documents", len(tl.Rows), ok)
	}
	if got := s.Map().Nodes[Node{"api", "AWS::ApiGateway::Stage"}].Count; got != 4 {
		t.Errorf("map counts %d api requests, want the kept 4", got)
	}
}

func TestStoreSignalsChanges(t *testing.T) {
	s := NewStore()
	v0, changed := s.Changed()
	s.Add(Segment{Name: "no trace id"}) // dropped: no change
	select {
	case <-changed:
		t.Fatal("changed without a kept document")
	default:
	}
	if err := s.AddDocument([]byte(`[{"name":"a","id":"0000000000000001","trace_id":"1-00000001-000000000000000000000001","start_time":1,"end_time":2}]`)); err != nil {
		t.Fatal(err)
	}
	<-changed
	if v1, _ := s.Changed(); v1 != v0+1 {
		t.Errorf("version %d, want %d", v1, v0+1)
	}
	if err := s.AddDocument([]byte(`{"name":`)); err == nil {
		t.Error("AddDocument took a broken document")
	}
	if _, err := s.Traces(`annotation.x =`); err == nil {
		t.Error("Traces took a malformed filter")
	}
}

// TestStoreConcurrentUse runs writers and readers together for the race
// detector.
func TestStoreConcurrentUse(t *testing.T) {
	s := NewStore(WithMaxTraces(10))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				s.Add(traceDoc(w*100+i, i+1))
			}
		})
		wg.Go(func() {
			for range 50 {
				_ = s.Map()
				traces, _ := s.Traces("")
				for _, tr := range traces {
					s.Trace(tr.ID)
				}
			}
		})
	}
	wg.Wait()
	if n := len(s.Segments()); n != 10 {
		t.Errorf("%d documents kept, want 10 (one per kept trace)", n)
	}
}
