// Package xrayview tests the local X-Ray view (internal/local/xrayview) in a
// real browser: headless Chromium loads the page from xrayview.NewHandler fed
// with segment documents recorded through the real collector, and the tests
// assert the DOM the page rendered: the trace map's nodes and edges, the http
// function's faults, the trace list's filter, a trace's timeline; they write
// screenshots to out/xrayview (or, with -update-docs, to docs/ for the README).
//
// Chromium comes from Debian's chromium package (.ci/run installs it). Without
// it the tests skip, except under CI=true, where a missing browser fails.
//
//	go -C test test ./xrayview
package xrayview

import (
	"context"
	"flag"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xray-tracer/xray-tracer/internal/functions/pattern"
	"github.com/xray-tracer/xray-tracer/internal/local/xrayview"
	"github.com/xray-tracer/xray-tracer/test/browsertest"
)

var updateDocs = flag.Bool("update-docs", false, "also write the screenshots to docs/ for the README")

// browser drives one tab of headless Chromium for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	return browsertest.Start(t, 2*time.Minute)
}

// recording reads the documents make xray-segments recorded for five requests
// with the http function failing on purpose (all five failed), in arrival
// order, grouped by trace in order of first arrival.
func recording(t *testing.T) (root string, traces [][]xrayview.Segment) {
	t.Helper()
	root, err := pattern.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(root, "internal", "local", "xrayview", "testdata", "segments.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	docs, err := xrayview.ReadJSONLines(f)
	if err != nil {
		t.Fatal(err)
	}
	index := map[string]int{}
	for _, d := range docs {
		i, ok := index[d.TraceID]
		if !ok {
			i = len(traces)
			index[d.TraceID] = i
			traces = append(traces, nil)
		}
		traces[i] = append(traces[i], d)
	}
	return root, traces
}

// screenshot writes the whole page as a PNG to out/xrayview, and to docs/
// with -update-docs.
func screenshot(t *testing.T, ctx context.Context, root, name string) {
	t.Helper()
	dirs := []string{filepath.Join(root, "out", "xrayview")}
	if *updateDocs {
		dirs = append(dirs, filepath.Join(root, "docs"))
	}
	browsertest.Screenshot(t, ctx, name, dirs...)
}

// server serves the page from store. The page keeps its event stream open,
// so closing drops the client connections rather than wait for the browser.
func server(t *testing.T, store *xrayview.Store) *httptest.Server {
	srv := httptest.NewServer(xrayview.NewHandler(store))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv
}

type drawnNode struct {
	ID, Status          string
	Count, Faults       int
	FaultArc, HasSwatch bool
}

type drawnEdge struct {
	From, To string
	Count    int
}

// TestBrowserTraceMap loads the map with part of the recording, adds the rest
// while the page is open (it must redraw from its event stream), then
// asserts every node and edge the pattern draws and the http function's
// faults in the console's fault colour.
func TestBrowserTraceMap(t *testing.T) {
	ctx := browser(t)
	root, traces := recording(t)
	store := xrayview.NewStore()
	for _, tr := range traces[:4] {
		store.Add(tr...)
	}
	srv := server(t, store)

	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/#/map"),
		chromedp.WaitVisible(chromedp.CSS(`svg.service-map g.node`)),
	); err != nil {
		t.Fatalf("loading the map: %v", err)
	}
	for _, tr := range traces[4:] {
		store.Add(tr...)
	}
	const httpFn = `g.node[data-id="http (AWS::Lambda::Function)"]`
	if _, err := chromedp.Run(ctx,
		chromedp.Poll[bool](`document.querySelector('`+httpFn+`')?.dataset.count === "5"`, chromedp.WithPollingTimeout(20*time.Second)),
	); err != nil {
		t.Fatalf("the map did not redraw with the documents added after it loaded: %v", err)
	}

	nodes, err := chromedp.Run(ctx,
		chromedp.Evaluate[[]drawnNode](`Array.from(document.querySelectorAll('svg.service-map g.node')).map(n => ({
			ID: n.dataset.id, Status: n.dataset.status, Count: +n.dataset.count, Faults: +n.dataset.faults,
			FaultArc: !!n.querySelector('.ring circle[data-status="fault"][stroke="#d13212"]')}))`))
	if err != nil {
		t.Fatal(err)
	}
	edges, err := chromedp.Run(ctx,
		chromedp.Evaluate[[]drawnEdge](`Array.from(document.querySelectorAll('svg.service-map g.edge')).map(e => ({
			From: e.dataset.from, To: e.dataset.to, Count: +e.dataset.count}))`))
	if err != nil {
		t.Fatal(err)
	}

	wantNodes := []string{"client (client)", "xray-tracer-api/prod (AWS::ApiGateway::Stage)", "fan-out (AWS::SNS)",
		"second-topic (AWS::SNS)", "SQS (AWS::SQS)", "DynamoDB (AWS::DynamoDB)", "127.0.0.1 (remote)"}
	for _, fn := range pattern.Functions {
		wantNodes = append(wantNodes, fn+" (AWS::Lambda)", fn+" (AWS::Lambda::Function)")
	}
	var gotNodes []string
	for _, n := range nodes {
		gotNodes = append(gotNodes, n.ID)
		if n.Count != 5 {
			t.Errorf("node %s shows %d requests, want 5", n.ID, n.Count)
		}
		wantFaults := 0
		if n.ID == "http (AWS::Lambda::Function)" {
			wantFaults = 5
		}
		if n.Faults != wantFaults || n.FaultArc != (wantFaults > 0) {
			t.Errorf("node %s: %d faults, fault arc drawn %v; want %d", n.ID, n.Faults, n.FaultArc, wantFaults)
		}
	}
	slices.Sort(gotNodes)
	slices.Sort(wantNodes)
	if !slices.Equal(gotNodes, wantNodes) {
		t.Errorf("nodes drawn:\n%s\nwant:\n%s", strings.Join(gotNodes, "\n"), strings.Join(wantNodes, "\n"))
	}

	// The edges of the pattern's map (test/fidelity/testdata/servicemap.golden).
	wantEdges := []string{
		"client (client) -> xray-tracer-api/prod (AWS::ApiGateway::Stage)",
		"xray-tracer-api/prod (AWS::ApiGateway::Stage) -> fan-out (AWS::SNS)",
		"sns-publish (AWS::Lambda::Function) -> second-topic (AWS::SNS)",
		"second-topic (AWS::SNS) -> sns-subscribe (AWS::Lambda)",
		"sqs (AWS::Lambda::Function) -> SQS (AWS::SQS)",
		"SQS (AWS::SQS) -> sqs-subscribe (AWS::Lambda)",
		"dynamo (AWS::Lambda::Function) -> DynamoDB (AWS::DynamoDB)",
		"http (AWS::Lambda::Function) -> 127.0.0.1 (remote)",
	}
	for _, fn := range pattern.Functions {
		if fn != "sqs-subscribe" && fn != "sns-subscribe" {
			wantEdges = append(wantEdges, "fan-out (AWS::SNS) -> "+fn+" (AWS::Lambda)")
		}
		wantEdges = append(wantEdges, fn+" (AWS::Lambda) -> "+fn+" (AWS::Lambda::Function)")
	}
	var gotEdges []string
	for _, e := range edges {
		gotEdges = append(gotEdges, e.From+" -> "+e.To)
		if e.Count != 5 {
			t.Errorf("edge %s -> %s shows %d requests, want 5", e.From, e.To, e.Count)
		}
	}
	slices.Sort(gotEdges)
	slices.Sort(wantEdges)
	if !slices.Equal(gotEdges, wantEdges) {
		t.Errorf("edges drawn:\n%s\nwant:\n%s", strings.Join(gotEdges, "\n"), strings.Join(wantEdges, "\n"))
	}

	// Choosing the http function shows its statistics.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(httpFn)),
		chromedp.WaitVisible(chromedp.CSS(`.node-details[data-id="http (AWS::Lambda::Function)"]`)),
	); err != nil {
		t.Fatal(err)
	}
	details, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`.node-details`)))
	if err != nil {
		t.Fatal(err)
	}
	if details = strings.Join(strings.Fields(details), " "); !strings.Contains(details, "Faults (5xx) 100% (5)") {
		t.Errorf("node details %q, want faults 100%% (5)", details)
	}
	screenshot(t, ctx, root, "xrayview-map.png")
}

// TestBrowserTraces filters the trace list by annotation, shows a malformed
// filter's error, and opens a trace's timeline: the API stage first, the http
// function's fault with its exception and stack, a DynamoDB call's aws fields.
func TestBrowserTraces(t *testing.T) {
	ctx := browser(t)
	root, traces := recording(t)
	store := xrayview.NewStore()
	for _, tr := range traces {
		store.Add(tr...)
	}
	srv := server(t, store)

	tests := []struct {
		filter   string
		wantRows int
		wantErr  string
	}{
		{``, len(traces), ""},
		{`annotation.path = "/hello"`, 2, ""},
		{`annotation.Service = "sqs-subscribe" AND annotation.ColdStart = false`, 4, ""},
		{`annotation.path =`, 0, "expected a value"},
	}
	for _, tt := range tests {
		err := chromedp.Do(ctx,
			chromedp.Navigate(srv.URL+"/#/traces?filter="+url.QueryEscape(tt.filter)),
			chromedp.Reload(), // a change of the hash alone does not reload the page
			chromedp.WaitVisible(chromedp.CSS(`form.filter`)),
		)
		if err != nil {
			t.Fatalf("filter %q: %v", tt.filter, err)
		}
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector('#app').dataset.view === 'traces' && (!!document.querySelector('table.trace-list') || document.querySelector('.filter-error').textContent !== '')`)); err != nil {
			t.Fatalf("filter %q: %v", tt.filter, err)
		}
		rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('table.trace-list tbody tr.trace').length`))
		if err != nil {
			t.Fatal(err)
		}
		errText, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('.filter-error').textContent`))
		if err != nil {
			t.Fatal(err)
		}
		if rows != tt.wantRows || !strings.Contains(errText, tt.wantErr) || (tt.wantErr == "") != (errText == "") {
			t.Errorf("filter %q: %d rows, error %q; want %d rows, error containing %q", tt.filter, rows, errText, tt.wantRows, tt.wantErr)
		}
	}

	f, err := xrayview.ParseFilter(`annotation.path = "/a/b"`)
	if err != nil {
		t.Fatal(err)
	}
	var all []xrayview.Segment
	for _, tr := range traces {
		all = append(all, tr...)
	}
	id := xrayview.Summaries(all, f)[0].ID

	tl := browsertest.ReadTimeline(t, ctx, srv.URL, id)
	if len(tl.Rows) == 0 || tl.Rows[0].Name != "xray-tracer-api/prod" || tl.Rows[0].Depth != 0 {
		t.Errorf("timeline rows %+v, want the API stage first", tl.Rows)
	}
	for _, want := range []string{"fan-out", "DynamoDB", "SQS", "SNS", "127.0.0.1", "second-topic", "external HTTP Request", "process_message"} {
		if !slices.Contains(tl.Names(), want) {
			t.Errorf("timeline lacks %q: %v", want, tl.Names())
		}
	}
	if !tl.Faulted("http") {
		t.Errorf("no faulted http row: %+v", tl.Rows)
	}
	if !strings.Contains(tl.Exception, "httpcall.SimulatedFailure") || !strings.Contains(tl.Exception, "simulated failure") || tl.Frames == 0 {
		t.Errorf("exception %q with %d frames, want the simulated failure with its stack", tl.Exception, tl.Frames)
	}
	screenshot(t, ctx, root, "xrayview-trace.png")

	// Choosing the DynamoDB call shows its aws fields.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`table.timeline tbody tr[data-name="DynamoDB"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.segment-details[data-name="DynamoDB"] .aws`)),
	); err != nil {
		t.Fatal(err)
	}
	aws, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`.segment-details .aws`)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"operation", "UpdateItem", "table_name", "Hits", "region", "request_id"} {
		if !strings.Contains(aws, want) {
			t.Errorf("DynamoDB details %q lack %q", aws, want)
		}
	}
	if t.Failed() {
		html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS(`#app`)))
		t.Logf("%.4000s", html)
	}
}
