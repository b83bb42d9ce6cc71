package harness

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
)

// A Node of the service map, as the X-Ray console draws it: a segment's
// service (named by the segment, typed by its origin) or a downstream call
// (an "aws" or "remote" subsegment).
type Node struct {
	Name string
	Type string // origin of a segment; AWS::<name> for an aws call; remote
}

func (n Node) String() string { return n.Name + " (" + n.Type + ")" }

// NodeStats counts what a node recorded.
type NodeStats struct {
	Count, Errors, Faults, Throttles int
}

// ServiceMap is the map X-Ray would draw from a set of segment documents.
type ServiceMap struct {
	Nodes map[Node]NodeStats
	Edges map[[2]Node]int // from, to → count
}

// Client is the node of the callers of a trace's root segments.
var Client = Node{Name: "client", Type: "client"}

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

	m := ServiceMap{Nodes: map[Node]NodeStats{}, Edges: map[[2]Node]int{}}
	add := func(n Node, s Segment) {
		st := m.Nodes[n]
		st.Count++
		if s.Error {
			st.Errors++
		}
		if s.Fault {
			st.Faults++
		}
		if s.Throttle {
			st.Throttles++
		}
		m.Nodes[n] = st
	}
	for _, s := range all {
		switch {
		case isSegment(s):
			n := Node{Name: s.Name, Type: s.Origin}
			add(n, s)
			from, ok := Client, false
			if p, found := owner(s.ParentID); found {
				from, ok = Node{Name: p.Name, Type: p.Origin}, true
			}
			for _, l := range s.Links {
				// A linked edge, as X-Ray draws from an SQS queue to the
				// Lambda consumer of its messages.
				if linked, found := byID[l.ID]; found && !ok {
					from, ok = nodeOf(linked), true
				}
			}
			m.Edges[[2]Node{from, n}]++
		case (s.Namespace == "aws" || s.Namespace == "remote") && !continued[s.ID]:
			n := nodeOf(s)
			add(n, s)
			if p, ok := owner(parentOf[s.ID]); ok {
				m.Edges[[2]Node{{Name: p.Name, Type: p.Origin}, n}]++
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

// Text draws the map as lines: nodes with their counts, then edges.
func (m ServiceMap) Text() string {
	var b strings.Builder
	b.WriteString("nodes:\n")
	for _, n := range m.sortedNodes() {
		st := m.Nodes[n]
		fmt.Fprintf(&b, "  %-52s count=%d", n, st.Count)
		if st.Errors+st.Faults+st.Throttles > 0 {
			fmt.Fprintf(&b, " errors=%d faults=%d throttles=%d", st.Errors, st.Faults, st.Throttles)
		}
		b.WriteString("\n")
	}
	b.WriteString("edges:\n")
	for _, e := range m.sortedEdges() {
		fmt.Fprintf(&b, "  %s -> %s  (%d)\n", e[0], e[1], m.Edges[e])
	}
	return b.String()
}

// Mermaid draws the map as a Mermaid flowchart.
func (m ServiceMap) Mermaid() string {
	ids := map[Node]string{}
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for i, n := range append([]Node{Client}, m.sortedNodes()...) {
		if _, ok := ids[n]; ok {
			continue
		}
		ids[n] = fmt.Sprintf("n%d", i)
		fmt.Fprintf(&b, "    %s[\"%s<br/>%s\"]\n", ids[n], n.Name, n.Type)
	}
	for _, e := range m.sortedEdges() {
		fmt.Fprintf(&b, "    %s --> %s\n", ids[e[0]], ids[e[1]])
	}
	return b.String()
}

func (m ServiceMap) sortedNodes() []Node {
	return slices.SortedFunc(maps.Keys(m.Nodes), compareNodes)
}

func (m ServiceMap) sortedEdges() [][2]Node {
	return slices.SortedFunc(maps.Keys(m.Edges), func(a, b [2]Node) int {
		return cmp.Or(compareNodes(a[0], b[0]), compareNodes(a[1], b[1]))
	})
}

func compareNodes(a, b Node) int {
	return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Type, b.Type))
}

// WriteJSONLines writes each document as received, one compact JSON line
// each, to file.
func WriteJSONLines(file string, docs []Segment) error {
	var b bytes.Buffer
	for _, d := range docs {
		if err := json.Compact(&b, d.Raw); err != nil {
			return fmt.Errorf("segment %s: %w", d.ID, err)
		}
		b.WriteByte('\n')
	}
	if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}
