package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/xray-tracer/xray-tracer/internal/local/benchmd"
	"github.com/xray-tracer/xray-tracer/internal/local/faultcollector"
	"github.com/xray-tracer/xray-tracer/internal/local/sandbox"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

// faultResult is what one collector fault cost the otelsetup variant.
type faultResult struct {
	name    string
	healthy []time.Duration // against the healthy collector, same process, just before
	faulty  []time.Duration
	// reports are the flush reports on the function's stderr while the
	// fault lasted; lost is how many flushes it saw fail.
	reports int
	// recovered says whether the spans of the invocation after the fault
	// reached the collector once it was healthy again.
	recovered bool
}

// flushReport starts what otelsetup's Flush hands the error handler when an
// invocation's spans did not reach the collector.
const flushReport = "otelsetup: flush spans within"

// measureFaults runs the otelsetup variant against each collector fault
// (faultcollector), and xrayudp against an agent that does not listen: in a
// process of its own per fault, n invocations against the healthy collector,
// then n under the fault, then one more once the collector is healthy again,
// whose spans must arrive.
func measureFaults(ctx context.Context, bins map[string]string, n int) ([]faultResult, error) {
	var out []faultResult
	for _, f := range faultcollector.Faults {
		col, err := faultcollector.Start(faultcollector.Healthy)
		if err != nil {
			return nil, err
		}
		res, err := measureFault(ctx, bins, n, string(f), map[string]string{
			"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": col.Endpoint(),
		}, func(on bool) error {
			if on {
				return col.Set(f)
			}
			return col.Set(faultcollector.Healthy)
		}, func(ctx context.Context, id string) error {
			_, err := col.WaitForTrace(ctx, id)
			return err
		})
		_ = col.Close()
		if err != nil {
			return nil, fmt.Errorf("fault %q: %w", f, err)
		}
		out = append(out, res)
	}
	agent, err := faultcollector.StartAgent(true)
	if err != nil {
		return nil, err
	}
	defer agent.Close()
	res, err := measureFault(ctx, bins, n, "xrayudp, no agent listening", map[string]string{
		"OTEL_TRACES_EXPORTER": "xrayudp", "AWS_XRAY_DAEMON_ADDRESS": agent.Addr(),
	}, func(on bool) error { return agent.SetListening(!on) }, func(ctx context.Context, id string) error {
		_, err := agent.WaitForTrace(ctx, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("xrayudp without an agent: %w", err)
	}
	return append(out, res), nil
}

func measureFault(ctx context.Context, bins map[string]string, n int, name string, env map[string]string,
	setFault func(on bool) error, waitForTrace func(context.Context, string) error,
) (faultResult, error) {
	res := faultResult{name: name}
	var stderr lockedBuffer
	sb, err := sandbox.Start(ctx, sandbox.Function{
		Name: "bench-faults", Bootstrap: bins["otelsetup"], Env: env,
		MemoryMB: 128, Timeout: 10 * time.Second, Stdout: &stderr, Stderr: &stderr,
	})
	if err != nil {
		return res, err
	}
	defer sb.Close()
	payload := []byte(`{"spans":5}`)
	for i := range 3 + n { // the first are warm-up
		d, err := invoke(ctx, sb, payload)
		if err != nil {
			return res, err
		}
		if i >= 3 {
			res.healthy = append(res.healthy, d)
		}
	}
	if err := setFault(true); err != nil {
		return res, err
	}
	before := stderr.count(flushReport)
	for range n {
		d, err := invoke(ctx, sb, payload)
		if err != nil {
			return res, err
		}
		res.faulty = append(res.faulty, d)
	}
	// The reports come through a pipe: give them a moment to arrive.
	time.Sleep(200 * time.Millisecond)
	res.reports = stderr.count(flushReport) - before
	if err := setFault(false); err != nil {
		return res, err
	}
	header := traceHeader()
	r, err := sb.Invoke(ctx, payload, header)
	if err != nil {
		return res, err
	}
	if r.Err != nil {
		return res, r.Err
	}
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	root, _, _ := strings.Cut(strings.TrimPrefix(header, "Root="), ";")
	res.recovered = waitForTrace(wait, root) == nil
	return res, nil
}

// lockedBuffer keeps a process's output, written by the sandbox's copying
// goroutines while the benchmark reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Count(b.buf.Bytes(), []byte(s))
}

func (r *report) writeFaults(p func(string, ...any)) {
	bound := otelsetup.DefaultFlushTimeout + otelsetup.DeadlineMargin
	p("## Collector faults")
	p("")
	p("What a collector on a bad day adds to an invocation of (b) (and of (d) without its agent), 5 spans per invocation, %d invocations per fault: the duration under the fault less the p50 of the same process against the healthy collector just before (`internal/local/faultcollector`; `test/faults` asserts the bound on the pattern's own bootstrap). The bound is otelsetup's: the flush waits at most `DefaultFlushTimeout` (%v) and ends `DeadlineMargin` (%v) before the deadline at the latest; the timeout here is 10 s, so the flush timeout governs.", r.Plan.faults, otelsetup.DefaultFlushTimeout, otelsetup.DeadlineMargin)
	p("")
	p("| fault | added p50 | added max | within %v | lost flushes reported | spans after recovery |", bound)
	p("|---|---|---|---|---|---|")
	for _, f := range r.Faults {
		base := benchmd.Percentile(f.healthy, .5)
		added50, addedMax := benchmd.Percentile(f.faulty, .5)-base, benchmd.Percentile(f.faulty, 1)-base
		recovered := "arrived"
		if !f.recovered {
			recovered = "**lost**"
		}
		p("| %s | %s | %s | %s | %d of %d | %s |", f.name, ms(added50), ms(addedMax), yes(addedMax <= bound), f.reports, len(f.faulty), recovered)
	}
	p("")
	p("%s", faultsText)
	p("")
}
