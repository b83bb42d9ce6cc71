package xrayview

import "time"

// MapView is the service map as the page draws it: nodes with the numbers the
// console shows on them, the client node first, and edges by node ID.
type MapView struct {
	Nodes []NodeView `json:"nodes"`
	Edges []EdgeView `json:"edges"`
}

// NodeView is one node of a MapView. ID is Node.String(), unique in the map.
type NodeView struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Type   string `json:"type"`
	Client bool   `json:"client,omitempty"`
	StatsView
}

// EdgeView is one edge of a MapView, between node IDs.
type EdgeView struct {
	From string `json:"from"`
	To   string `json:"to"`
	StatsView
}

// StatsView is Stats as the console shows it: counts, the average latency,
// and the shares of the node's ring. The shares follow X-Ray's service graph
// statistics (https://docs.aws.amazon.com/xray/latest/api/API_ErrorStatistics.html):
// a throttle (429) is also an error in the document, so the error share is
// the errors other than throttles; the four shares add up to 1.
type StatsView struct {
	Count         int     `json:"count"`
	Errors        int     `json:"errors"`
	Faults        int     `json:"faults"`
	Throttles     int     `json:"throttles"`
	AverageMs     float64 `json:"averageMs"`
	OKShare       float64 `json:"okShare"`
	ErrorShare    float64 `json:"errorShare"`
	FaultShare    float64 `json:"faultShare"`
	ThrottleShare float64 `json:"throttleShare"`
	Status        Status  `json:"status"` // the worst status seen: fault, throttle, error or ok
}

func statsView(s Stats) StatsView {
	v := StatsView{Count: s.Count, Errors: s.Errors, Faults: s.Faults, Throttles: s.Throttles,
		AverageMs: float64(s.AverageTime().Microseconds()) / 1e3, Status: StatusOK}
	switch {
	case s.Faults > 0:
		v.Status = StatusFault
	case s.Throttles > 0:
		v.Status = StatusThrottle
	case s.Errors > 0:
		v.Status = StatusError
	}
	if s.Count == 0 {
		v.OKShare = 1
		return v
	}
	n := float64(s.Count)
	v.FaultShare = min(float64(s.Faults)/n, 1)
	v.ThrottleShare = min(float64(s.Throttles)/n, 1-v.FaultShare)
	v.ErrorShare = min(float64(max(s.Errors-s.Throttles, 0))/n, 1-v.FaultShare-v.ThrottleShare)
	v.OKShare = max(1-v.FaultShare-v.ThrottleShare-v.ErrorShare, 0)
	return v
}

// View is the map as the page draws it. The client node counts the requests
// of its edges; it is there only when some trace has a root.
func (m ServiceMap) View() MapView {
	v := MapView{Nodes: []NodeView{}, Edges: []EdgeView{}}
	var client Stats
	for _, e := range m.SortedEdges() {
		st := m.Edges[e]
		if e.From == Client {
			client.Count += st.Count
			client.Timed += st.Timed
			client.TotalTime += st.TotalTime
		}
		v.Edges = append(v.Edges, EdgeView{From: e.From.String(), To: e.To.String(), StatsView: statsView(st)})
	}
	if client.Count > 0 {
		v.Nodes = append(v.Nodes, NodeView{ID: Client.String(), Name: Client.Name, Type: Client.Type, Client: true, StatsView: statsView(client)})
	}
	for _, n := range m.SortedNodes() {
		v.Nodes = append(v.Nodes, NodeView{ID: n.String(), Name: n.Name, Type: n.Type, StatsView: statsView(m.Nodes[n])})
	}
	return v
}

// snapshot is everything the page shows, for a self-contained file.
type snapshot struct {
	Map       MapView             `json:"map"`
	Traces    []TraceSummary      `json:"traces"`
	Timelines map[string]Timeline `json:"timelines"`
	Generated time.Time           `json:"generated"`
}
