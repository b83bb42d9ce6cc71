package xrayview

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// A Node of the service map, as the X-Ray console draws it: a segment's
// service (named by the segment, typed by its origin) or a downstream call
// (an "aws" or "remote" subsegment).
type Node struct {
	Name string
	Type string // origin of a segment; AWS::<name> for an aws call; remote; client
}

func (n Node) String() string { return n.Name + " (" + n.Type + ")" }

// Client is the node of the callers of a trace's root segments, which the
// console draws as the map's entry point.
var Client = Node{Name: "client", Type: "client"}

// Stats counts the requests a node served or an edge carried: how many, how
// many failed in which way, and how long they took, which is what the console
// shows on a node and an edge.
type Stats struct {
	Count, Errors, Faults, Throttles int
	// Timed counts the requests that ended (not in progress) and TotalTime
	// sums their durations, for AverageTime.
	Timed     int
	TotalTime time.Duration
}

// AverageTime is the mean duration of the requests that ended, 0 if none did.
func (s Stats) AverageTime() time.Duration {
	if s.Timed == 0 {
		return 0
	}
	return s.TotalTime / time.Duration(s.Timed)
}

// add counts one occurrence: a segment served or a call made.
func (s *Stats) add(seg Segment) {
	s.Count++
	if seg.Error {
		s.Errors++
	}
	if seg.Fault {
		s.Faults++
	}
	if seg.Throttle {
		s.Throttles++
	}
	if d, ok := seg.duration(); ok {
		s.Timed++
		s.TotalTime += d
	}
}

// An Edge of the service map: requests from one node to another.
type Edge struct{ From, To Node }

// ServiceMap is the map X-Ray would draw from a set of segment documents.
type ServiceMap struct {
	Nodes map[Node]Stats // every node but Client
	Edges map[Edge]Stats // what each edge carried, counted at its target
}

// BuildServiceMap derives the service map from segment documents: every
// segment is (an occurrence of) a node; a segment whose parent lies in
// another segment is an edge between their nodes; an aws or remote
// subsegment is an edge from its segment to a downstream node, unless a
// segment continues under it (SNS, for example), which is then the
// downstream node. A segment without a parent among the documents is reached
// by the call it links to (SQS to its Lambda consumer), else by the client.
func BuildServiceMap(docs []Segment) ServiceMap {
	all := Flatten(docs)
	byID := map[string]Segment{}
	parentOf := map[string]string{} // id → parent id, embedded or sent alone
	for _, d := range docs {
		index(d, "", byID, parentOf)
	}
	owner := func(id string) (Segment, bool) {
		for range len(byID) + 1 {
			s, ok := byID[id]
			if !ok {
				return Segment{}, false
			}
			if isSegment(s) {
				return s, true
			}
			id = parentOf[id]
		}
		return Segment{}, false
	}
	continued := map[string]bool{} // subsegment ids a segment continues under
	for _, s := range all {
		if isSegment(s) && s.ParentID != "" {
			continued[s.ParentID] = true
		}
	}

	m := ServiceMap{Nodes: map[Node]Stats{}, Edges: map[Edge]Stats{}}
	count := func(n Node, e Edge, s Segment) {
		st := m.Nodes[n]
		st.add(s)
		m.Nodes[n] = st
		est := m.Edges[e]
		est.add(s)
		m.Edges[e] = est
	}
	for _, s := range all {
		switch {
		case isSegment(s):
			n := nodeOf(s)
			from, ok := Client, false
			if p, found := owner(s.ParentID); found {
				from, ok = nodeOf(p), true
			}
			for _, l := range s.Links {
				// A linked edge, as X-Ray draws from an SQS queue to the
				// Lambda consumer of its messages.
				if linked, found := byID[l.ID]; found && !ok {
					from, ok = nodeOf(linked), true
				}
			}
			count(n, Edge{from, n}, s)
		case (s.Namespace == "aws" || s.Namespace == "remote") && !continued[s.ID]:
			n := nodeOf(s)
			if p, ok := owner(parentOf[s.ID]); ok {
				count(n, Edge{nodeOf(p), n}, s)
			} else {
				st := m.Nodes[n]
				st.add(s)
				m.Nodes[n] = st
			}
		}
	}
	return m
}

// nodeOf is the node a segment or a downstream call stands for.
func nodeOf(s Segment) Node {
	switch {
	case isSegment(s):
		return Node{Name: s.Name, Type: s.Origin}
	case s.Namespace == "aws":
		return Node{Name: s.Name, Type: "AWS::" + s.Name}
	}
	return Node{Name: s.Name, Type: "remote"}
}

// isSegment reports whether s is a segment: a top-level document (it has a
// trace ID) not marked as a subsegment sent on its own.
func isSegment(s Segment) bool { return s.Type != "subsegment" && s.TraceID != "" }

func index(s Segment, parent string, byID map[string]Segment, parentOf map[string]string) {
	byID[s.ID] = s
	if parent != "" {
		parentOf[s.ID] = parent
	} else {
		parentOf[s.ID] = s.ParentID
	}
	for _, sub := range s.Subsegments {
		index(sub, s.ID, byID, parentOf)
	}
}

// Text draws the map as lines: nodes with their counts, then edges. It leaves
// out durations, so that a golden file of it stays stable from run to run.
func (m ServiceMap) Text() string {
	var b strings.Builder
	b.WriteString("nodes:\n")
	for _, n := range m.SortedNodes() {
		st := m.Nodes[n]
		fmt.Fprintf(&b, "  %-52s count=%d", n, st.Count)
		if st.Errors+st.Faults+st.Throttles > 0 {
			fmt.Fprintf(&b, " errors=%d faults=%d throttles=%d", st.Errors, st.Faults, st.Throttles)
		}
		b.WriteString("\n")
	}
	b.WriteString("edges:\n")
	for _, e := range m.SortedEdges() {
		fmt.Fprintf(&b, "  %s -> %s  (%d)\n", e.From, e.To, m.Edges[e].Count)
	}
	return b.String()
}

// Mermaid draws the map as a Mermaid flowchart.
func (m ServiceMap) Mermaid() string {
	ids := map[Node]string{}
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for i, n := range append([]Node{Client}, m.SortedNodes()...) {
		if _, ok := ids[n]; ok {
			continue
		}
		ids[n] = fmt.Sprintf("n%d", i)
		fmt.Fprintf(&b, "    %s[\"%s<br/>%s\"]\n", ids[n], n.Name, n.Type)
	}
	for _, e := range m.SortedEdges() {
		fmt.Fprintf(&b, "    %s --> %s\n", ids[e.From], ids[e.To])
	}
	return b.String()
}

// SortedNodes lists the nodes (Client not among them) by name, then type.
func (m ServiceMap) SortedNodes() []Node {
	return slices.SortedFunc(maps.Keys(m.Nodes), compareNodes)
}

// SortedEdges lists the edges by their source, then their target.
func (m ServiceMap) SortedEdges() []Edge {
	return slices.SortedFunc(maps.Keys(m.Edges), func(a, b Edge) int {
		return cmp.Or(compareNodes(a.From, b.From), compareNodes(a.To, b.To))
	})
}

func compareNodes(a, b Node) int {
	return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Type, b.Type))
}
