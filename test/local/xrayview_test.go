package local

import (
	"flag"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/internal/functions/pattern"
	"github.com/xray-tracer/xray-tracer/test/browsertest"
)

var updateDocs = flag.Bool("update-docs", false, "also write the live page's screenshots to docs/ for the README")

type drawnNode struct {
	ID            string
	Count, Faults int
	FaultArc      bool
}

// TestLocalXRayViewInBrowser opens the runner's X-Ray view in headless
// Chromium before any request, sends requests through the whole local stack
// with the http function failing every time, and asserts what the page drew
// from the documents the real collector's awsxray exporter sent and the
// segments the runner records for AWS: the map redrawn live with every node
// and edge of the pattern (test/fidelity/testdata/servicemap.golden), the
// http function's faults, and a request's timeline with the exception.
func TestLocalXRayViewInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole local stack (and builds Jaeger the first time)")
	}
	ctx := browsertest.Start(t, readyWithin+5*time.Minute) // skips without Chromium before the stack starts
	r := startRunnerEnv(t, []string{"FAILURE_RATE=1"})
	page := "http://" + r.addrs["xray"]
	// The addresses follow the "ready" line.
	for i := 0; !strings.Contains(r.output(), "X-Ray      "+page+"/"); i++ {
		if i == 50 {
			t.Errorf("the runner did not print the page's address %s:\n%s", page, r.output())
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(page+"/#/map")); err != nil {
		t.Fatalf("loading %s: %v", page, err)
	}

	paths := []string{"/", "/hello", "/a/b"}
	var ids []trace.TraceID
	for _, p := range paths {
		s := get(t, http.MethodGet, "http://"+r.addrs["api"]+p)
		if s.status != http.StatusOK || !s.traceID.IsValid() {
			t.Fatalf("GET %s: %d, trace %v", p, s.status, s.traceID)
		}
		ids = append(ids, s.traceID)
	}

	// Lambda retries each failed asynchronous invocation twice: the http
	// function runs three times a request. sqs-subscribe's batches may hold
	// several requests' messages, so only its presence is awaited.
	node := func(id string) string {
		return `document.querySelector('svg.service-map g.node[data-id="` + id + `"]')`
	}
	done := node("http (AWS::Lambda::Function)") + `?.dataset.count === "9" && ` +
		node("sns-subscribe (AWS::Lambda::Function)") + `?.dataset.count === "3" && ` +
		node("dynamo (AWS::Lambda::Function)") + `?.dataset.count === "3" && !!` +
		node("sqs-subscribe (AWS::Lambda::Function)")
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](done, chromedp.WithPollingTimeout(90*time.Second))); err != nil {
		html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS(`#app`)))
		t.Fatalf("the map did not redraw with the requests' segments: %v\n%.3000s", err, html)
	}
	nodes, err := chromedp.Run(ctx, chromedp.Evaluate[[]drawnNode](`Array.from(document.querySelectorAll('svg.service-map g.node')).map(n => ({
		ID: n.dataset.id, Count: +n.dataset.count, Faults: +n.dataset.faults,
		FaultArc: !!n.querySelector('.ring circle[data-status="fault"][stroke="#d13212"]')}))`))
	if err != nil {
		t.Fatal(err)
	}
	edges, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('svg.service-map g.edge')).map(e => e.dataset.from + ' -> ' + e.dataset.to)`))
	if err != nil {
		t.Fatal(err)
	}
	wantNodes := []string{"client (client)", "xray-tracer-api/prod (AWS::ApiGateway::Stage)", "fan-out (AWS::SNS)",
		"second-topic (AWS::SNS)", "SQS (AWS::SQS)", "DynamoDB (AWS::DynamoDB)", "127.0.0.1 (remote)"}
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
		wantNodes = append(wantNodes, fn+" (AWS::Lambda)", fn+" (AWS::Lambda::Function)")
		if fn != "sqs-subscribe" && fn != "sns-subscribe" {
			wantEdges = append(wantEdges, "fan-out (AWS::SNS) -> "+fn+" (AWS::Lambda)")
		}
		wantEdges = append(wantEdges, fn+" (AWS::Lambda) -> "+fn+" (AWS::Lambda::Function)")
	}
	var gotNodes []string
	for _, n := range nodes {
		gotNodes = append(gotNodes, n.ID)
		wantFaults := 0
		if n.ID == "http (AWS::Lambda::Function)" {
			wantFaults = n.Count
		}
		if n.Faults != wantFaults || n.FaultArc != (wantFaults > 0) {
			t.Errorf("node %s: %d of %d requests faulted, fault arc drawn %v; want %d", n.ID, n.Faults, n.Count, n.FaultArc, wantFaults)
		}
	}
	for _, got := range [][]string{gotNodes, edges, wantNodes, wantEdges} {
		slices.Sort(got)
	}
	if !slices.Equal(gotNodes, wantNodes) {
		t.Errorf("nodes drawn:\n%s\nwant:\n%s", strings.Join(gotNodes, "\n"), strings.Join(wantNodes, "\n"))
	}
	if !slices.Equal(edges, wantEdges) {
		t.Errorf("edges drawn:\n%s\nwant:\n%s", strings.Join(edges, "\n"), strings.Join(wantEdges, "\n"))
	}
	root, err := pattern.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dirs := []string{filepath.Join(root, "out", "xrayview-local")}
	if *updateDocs {
		dirs = append(dirs, filepath.Join(root, "docs"))
	}
	browsertest.Screenshot(t, ctx, "xrayview-map.png", dirs...)

	// The last request's timeline: the stage first, every hop of the
	// pattern, the http function's fault with its exception and stack.
	id := ids[len(ids)-1].String()
	xid := "1-" + id[:8] + "-" + id[8:]
	tl := browsertest.ReadTimeline(t, ctx, page, xid)
	if len(tl.Rows) == 0 || tl.Rows[0].Name != "xray-tracer-api/prod" || tl.Rows[0].Depth != 0 {
		t.Errorf("timeline rows %+v, want the API stage first", tl.Rows)
	}
	for _, want := range []string{"fan-out", "dynamo", "DynamoDB", "SQS", "SNS", "127.0.0.1", "second-topic", "external HTTP Request", "process_message"} {
		if !slices.Contains(tl.Names(), want) {
			t.Errorf("timeline lacks %q: %v", want, tl.Names())
		}
	}
	if !tl.Faulted("http") {
		t.Errorf("no faulted http row: %+v", tl.Rows)
	}
	if !strings.Contains(tl.Exception, "simulated failure") || tl.Frames == 0 {
		t.Errorf("exception %q with %d frames, want the simulated failure with its stack", tl.Exception, tl.Frames)
	}
	browsertest.Screenshot(t, ctx, "xrayview-trace.png", dirs...)
}
