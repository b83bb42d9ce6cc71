package xrayview

import (
	"fmt"
	"sync"
)

// DefaultMaxTraces is how many traces a Store keeps unless WithMaxTraces
// says otherwise: enough for a session of manual requests and a load test's
// recent past, small enough that the map is recomputed in milliseconds.
const DefaultMaxTraces = 1000

// Store keeps the segment documents of the newest traces as they arrive, for
// the page and its API. It is safe for concurrent use: the X-Ray stand-in
// adds documents while the page reads them.
type Store struct {
	max int

	mu      sync.Mutex
	traces  map[string][]Segment // trace ID → documents in arrival order
	order   []string             // trace IDs by first arrival, oldest first
	version uint64
	changed chan struct{} // closed and replaced on every change
}

// An Option configures a Store.
type Option func(*Store)

// WithMaxTraces bounds the Store to the n traces whose first document arrived
// last; older traces are forgotten whole. n < 1 means DefaultMaxTraces.
func WithMaxTraces(n int) Option {
	return func(s *Store) {
		if n >= 1 {
			s.max = n
		}
	}
}

// NewStore returns an empty Store.
func NewStore(opts ...Option) *Store {
	s := &Store{max: DefaultMaxTraces, traces: map[string][]Segment{}, changed: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Add keeps segment documents as PutTraceSegments received them (segments,
// or subsegments sent on their own). A document without a trace ID cannot be
// placed and is dropped: X-Ray refuses it too.
func (s *Store) Add(docs ...Segment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	added := false
	for _, d := range docs {
		if d.TraceID == "" {
			continue
		}
		if _, ok := s.traces[d.TraceID]; !ok {
			s.order = append(s.order, d.TraceID)
		}
		s.traces[d.TraceID] = append(s.traces[d.TraceID], d)
		added = true
	}
	for len(s.order) > s.max {
		delete(s.traces, s.order[0])
		s.order = s.order[1:]
	}
	if added {
		s.version++
		close(s.changed)
		s.changed = make(chan struct{})
	}
}

// AddDocument decodes and keeps one element of PutTraceSegments'
// TraceSegmentDocuments: what an X-Ray stand-in calls for each document.
func (s *Store) AddDocument(doc []byte) error {
	segs, err := DecodeDocument(doc)
	if err != nil {
		return fmt.Errorf("xrayview: store: %w", err)
	}
	s.Add(segs...)
	return nil
}

// Changed returns the version of the Store's contents and a channel closed
// when they change after it, for live updates without polling.
func (s *Store) Changed() (version uint64, changed <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version, s.changed
}

// Segments returns the kept documents, trace by trace in order of first
// arrival, each trace's in arrival order. The documents are shared: treat
// them as read-only.
func (s *Store) Segments() []Segment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Segment
	for _, id := range s.order {
		out = append(out, s.traces[id]...)
	}
	return out
}

// Map is the service map of the kept traces.
func (s *Store) Map() ServiceMap { return BuildServiceMap(s.Segments()) }

// Traces summarizes the kept traces that pass filter (an expression for
// ParseFilter), newest first. A malformed filter is an error to show the user.
func (s *Store) Traces(filter string) ([]TraceSummary, error) {
	f, err := ParseFilter(filter)
	if err != nil {
		return nil, err
	}
	return Summaries(s.Segments(), f), nil
}

// Trace is the timeline of one kept trace; false if the Store has none.
func (s *Store) Trace(id string) (Timeline, bool) {
	s.mu.Lock()
	docs := s.traces[id]
	s.mu.Unlock()
	if len(docs) == 0 {
		return Timeline{}, false
	}
	return BuildTimeline(docs), true
}
