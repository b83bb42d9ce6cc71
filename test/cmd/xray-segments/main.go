// Command xray-segments runs the pattern through the fidelity harness (the
// real functions, the real collector with collector.yaml, stand-ins for
// Lambda and X-Ray) for a few requests, writes every segment document X-Ray
// would receive as one JSON line to $XRAY_SEGMENTS_OUT/segments.jsonl
// (default out/segments), the page of the local X-Ray view (the trace map,
// the traces and their timelines, as the console shows them) as one
// self-contained segments.html beside it, and prints the service map as text
// and as a Mermaid graph.
//
//	make xray-segments
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xray-tracer/xray-tracer/internal/functions/pattern"
	"github.com/xray-tracer/xray-tracer/internal/local/xrayview"
	"github.com/xray-tracer/xray-tracer/test/harness"
)

func main() {
	paths := flag.String("paths", "/,/hello,/a/b", "comma-separated request paths")
	variant := flag.String("collector", harness.CollectorLayer, "collector to run: layer (v0.159.0, nearest the template's ADOT layer) or older (v0.120.0)")
	failureRate := flag.Float64("failure-rate", 0.4, "share of the http function's calls that fail on purpose (0 to 1)")
	flag.Parse()
	out := os.Getenv("XRAY_SEGMENTS_OUT")
	if out == "" {
		out = filepath.Join("out", "segments")
	}
	if err := run(*variant, strings.Split(*paths, ","), *failureRate, out); err != nil {
		log.Fatalf("xray-segments: %v", err)
	}
}

func run(variant string, paths []string, failureRate float64, out string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	progress := func(format string, args ...any) { fmt.Fprintf(os.Stderr, "xray-segments: "+format+"\n", args...) }

	root, err := pattern.RepoRoot()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "xray-segments-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	progress("building the functions and the %s collector (the collector takes minutes the first time)", variant)
	bootstraps, err := pattern.Build(ctx, root, filepath.Join(work, "functions"))
	if err != nil {
		return err
	}
	colBin := filepath.Join(work, "otelcol-xray")
	if err := harness.BuildCollector(ctx, root, variant, colBin); err != nil {
		return err
	}

	xray, err := harness.NewXRay()
	if err != nil {
		return err
	}
	defer xray.Close()
	col, err := harness.StartCollector(ctx, harness.CollectorConfig{
		Binary: colBin, Config: filepath.Join(root, "collector.yaml"), XRayEndpoint: xray.URL(), Region: harness.Region,
	})
	if err != nil {
		return err
	}
	defer col.Close()
	p, err := harness.StartPattern(ctx, harness.PatternConfig{Bootstraps: bootstraps, XRay: xray, HTTPFailureRate: failureRate})
	if err != nil {
		return err
	}
	defer p.Close()

	var reqs []harness.Request
	for _, path := range paths {
		req, err := p.Request(ctx, path)
		outcome := "all succeeded"
		var failed []string
		for _, inv := range req.Invocations {
			if inv.Result.Err != nil {
				failed = append(failed, inv.Function+" ("+inv.Result.Err.Message+")")
			}
		}
		if len(failed) > 0 {
			outcome = "failed: " + strings.Join(failed, ", ")
		}
		if err != nil {
			outcome = err.Error()
		}
		progress("GET %s: trace %s, %d invocations, %s", path, req.TraceID, len(req.Invocations), outcome)
		reqs = append(reqs, req)
	}
	if err := harness.WaitForInvocations(ctx, xray, reqs); err != nil {
		return fmt.Errorf("waiting for the spans to reach X-Ray: %w\ncollector log:\n%s", err, col.Logs())
	}
	docs := xray.Segments()

	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	file := filepath.Join(out, "segments.jsonl")
	if err := xrayview.WriteJSONLines(file, docs); err != nil {
		return err
	}
	progress("wrote %d segment documents to %s", len(docs), file)
	page := filepath.Join(out, "segments.html")
	if err := writePage(page, docs); err != nil {
		return err
	}
	progress("wrote the X-Ray view (trace map, traces, timelines) to %s", page)

	m := xrayview.BuildServiceMap(docs)
	fmt.Println("Service map (" + variant + " collector):")
	fmt.Print(m.Text())
	fmt.Println()
	fmt.Println("```mermaid")
	fmt.Print(m.Mermaid())
	fmt.Println("```")
	return nil
}

// writePage writes the X-Ray view of docs as one HTML file that opens from
// disk.
func writePage(file string, docs []harness.Segment) (err error) {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("write %s: %w", file, cerr)
		}
	}()
	if err := xrayview.WriteHTML(f, docs, time.Now()); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}
