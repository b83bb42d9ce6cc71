// Package faults proves end to end what a function does when its collector
// has a bad day: the pattern's real sns-subscribe bootstrap runs behind the
// Lambda Runtime API stand-in (internal/local/sandbox) and exports to a
// collector that fails in one of the ways a real one does
// (internal/local/faultcollector), or, with OTEL_TRACES_EXPORTER=xrayudp, to
// an X-Ray agent that is not listening. For each fault:
//   - the invocation answers before its deadline;
//   - the latency the fault adds stays within otelsetup's flush bound plus
//     its deadline margin;
//   - the function reports the lost spans on stderr, through OpenTelemetry's
//     error handler (xrayudp cannot know: see there);
//   - once the collector is back, the next invocation's spans reach it.
//
// Speed is measured by the benchmark (`make bench`, BENCHMARKS.md's fault
// table); these tests assert the bounds, which derive from otelsetup's
// constants.
package faults

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/xray-tracer/xray-tracer/internal/functions/pattern"
	"github.com/xray-tracer/xray-tracer/internal/local/faultcollector"
	"github.com/xray-tracer/xray-tracer/internal/local/sandbox"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

// function is the bootstrap every test runs: sns-subscribe, the pattern's
// function that calls nothing but the collector, so that its flush is all
// a fault can slow down.
const function = "sns-subscribe"

var bootstrap string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	root, err := pattern.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bins, err := pattern.Build(ctx, root, filepath.Join(dir, "functions"), function)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	bootstrap = bins[function]
	return m.Run()
}

// schedulingSlack is added to the bound on the latency a fault adds. The
// bound itself is otelsetup's: the flush waits at most DefaultFlushTimeout,
// and never past the deadline less DeadlineMargin. What the slack covers is
// not the function's doing: the function and this test are separate
// processes on a shared machine (two cores in CI, with -race builds and
// other test binaries running at once), so the child can be descheduled
// between its flush's end and its answer, and the stand-in's clock reads
// the answer only when the test's goroutine runs. Half a second of that is
// generous; a fault that broke the bound (a retry that ignored the flush's
// context, say) would add a whole second or more.
const schedulingSlack = 500 * time.Millisecond

// A fault's invocations under it, before the collector comes back.
const invocationsUnderFault = 3

// flushReport is what otelsetup's Flush hands to the error handler when an
// invocation's spans did not reach the collector.
const flushReport = "otelsetup: flush spans within"

// stillUnderWay is what a flush reports when its time ran out before the
// export returned.
const stillUnderWay = "still under way: context deadline exceeded"

func TestCollectorFaults(t *testing.T) {
	tests := []struct {
		name  string
		fault faultcollector.Fault
		// udp exports with xrayudp to an agent that does not listen, instead.
		udp bool
		// timeout is the function's Lambda timeout (3 s, Lambda's default,
		// unless set).
		timeout time.Duration
		// report is what each flush's report on stderr says of the fault;
		// "" for none.
		report string
	}{
		{name: "nothing listening", fault: faultcollector.Down, report: "connection refused"},
		{name: "accepts, never answers", fault: faultcollector.Hang, report: "context deadline exceeded"},
		{name: "answers 500", fault: faultcollector.ServerError, report: "answered 500 Internal Server Error"},
		// Retry-After: 1 s does not fit in the 1 s flush: given up at once.
		{name: "answers 429 with Retry-After", fault: faultcollector.Throttled, report: "asked to retry in 1s, after the export's deadline: otlp: 429 Too Many Requests"},
		{name: "resets connections", fault: faultcollector.Reset, report: "connection reset by peer"},
		{name: "answers after 2 s", fault: faultcollector.Slow, report: "context deadline exceeded"},
		// Lambda's shortest timeout: the deadline, not the flush timeout,
		// bounds the flush.
		{name: "never answers, 1 s timeout", fault: faultcollector.Hang, timeout: time.Second, report: "context deadline exceeded"},
		// UDP has no answer: a datagram to a port nobody listens on is
		// lost. The kernel's ICMP port unreachable comes back as the error
		// of xrayudp's next send, which sends again (the report consumed),
		// so no send fails for it (TestXRayUDPAgentComesBack). So nothing
		// is reported and nothing is added; the agent's being there is
		// Lambda's side of the contract (active tracing).
		{name: "xrayudp, no agent listening", udp: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			env := map[string]string{}
			var receiver interface {
				WaitForTrace(context.Context, string) ([]*tracepb.Span, error)
			}
			var setFault func(on bool) error
			if tt.udp {
				agent, err := faultcollector.StartAgent(true)
				if err != nil {
					t.Fatal(err)
				}
				defer agent.Close()
				env["OTEL_TRACES_EXPORTER"] = "xrayudp"
				env["AWS_XRAY_DAEMON_ADDRESS"] = agent.Addr()
				receiver = agent
				setFault = func(on bool) error { return agent.SetListening(!on) }
			} else {
				col, err := faultcollector.Start(faultcollector.Healthy)
				if err != nil {
					t.Fatal(err)
				}
				defer col.Close()
				env["OTEL_TRACES_EXPORTER"] = "otlp"
				env["OTEL_EXPORTER_OTLP_ENDPOINT"] = col.Endpoint()
				receiver = col
				setFault = func(on bool) error {
					if on {
						return col.Set(tt.fault)
					}
					return col.Set(faultcollector.Healthy)
				}
			}
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 3 * time.Second
			}
			var stderr syncBuffer
			sb, err := sandbox.Start(ctx, sandbox.Function{Name: function, Bootstrap: bootstrap, Env: env, Timeout: timeout, Stdout: &stderr, Stderr: &stderr})
			if err != nil {
				t.Fatal(err)
			}
			defer sb.Close()
			defer func() {
				if t.Failed() {
					t.Logf("the function's output:\n%s", stderr.String())
				}
			}()

			// Healthy first: proof that the spans go where the fault will
			// be, and the baseline, from a warm invocation (the first one
			// pays the cold start's connection to the collector).
			_ = invoke(ctx, t, sb)
			baseline := invoke(ctx, t, sb)
			if _, err := receiver.WaitForTrace(ctx, baseline.traceID); err != nil {
				t.Fatalf("healthy collector: %v", err)
			}
			if err := setFault(true); err != nil {
				t.Fatal(err)
			}

			// The bound: the flush's, as otelsetup documents it (at most
			// DefaultFlushTimeout, ending DeadlineMargin before the deadline
			// at the latest), plus the margin and the slack.
			bound := min(otelsetup.DefaultFlushTimeout, timeout) + otelsetup.DeadlineMargin + schedulingSlack
			for range invocationsUnderFault {
				inv := invoke(ctx, t, sb)
				if inv.res.Err != nil {
					t.Fatalf("invocation under fault: %v (the answer must come before the %v deadline)", inv.res.Err, timeout)
				}
				added := inv.res.Duration - baseline.res.Duration
				t.Logf("answered in %v, %v more than healthy (bound %v)", inv.res.Duration.Round(time.Millisecond), added.Round(time.Millisecond), bound)
				if added > bound {
					t.Errorf("the fault added %v (%v against %v healthy), want at most %v", added, inv.res.Duration, baseline.res.Duration, bound)
				}
			}

			// Every lost flush is reported, with what went wrong. The
			// report is written before the answer, but reaches this
			// process through a pipe, so it may lag a little behind it.
			if tt.report != "" {
				reports := waitForLines(ctx, &stderr, flushReport, invocationsUnderFault)
				if len(reports) < invocationsUnderFault {
					t.Errorf("%d flush reports on stderr, want one per invocation under the fault (%d)", len(reports), invocationsUnderFault)
				}
				// A flush that runs out of time while the export is still
				// returning says so; the export's own error then goes with
				// the next flush's report. Either way each report is
				// there, and the fault is named.
				named := false
				for _, r := range reports {
					named = named || strings.Contains(r, tt.report)
					if !strings.Contains(r, tt.report) && !strings.Contains(r, stillUnderWay) {
						t.Errorf("flush report %q says neither %q nor %q", r, tt.report, stillUnderWay)
					}
				}
				if !named {
					t.Errorf("no flush report says %q:\n%s", tt.report, strings.Join(reports, "\n"))
				}
			} else if got := stderr.String(); strings.Contains(got, "otelsetup:") || strings.Contains(got, "xrayudp:") {
				t.Errorf("a report on stderr where the exporter cannot know of a loss:\n%s", got)
			}

			// Back to healthy: the next invocation's spans arrive.
			if err := setFault(false); err != nil {
				t.Fatal(err)
			}
			after := invoke(ctx, t, sb)
			if after.res.Err != nil {
				t.Fatalf("invocation after the fault: %v", after.res.Err)
			}
			waitCtx, cancelWait := context.WithTimeout(ctx, 10*time.Second)
			defer cancelWait()
			spans, err := receiver.WaitForTrace(waitCtx, after.traceID)
			if err != nil {
				t.Fatalf("once the collector was back: %v", err)
			}
			if !hasSpan(spans, function) {
				t.Errorf("the invocation span %q is not among the spans that arrived: %v", function, names(spans))
			}
		})
	}
}

type invocation struct {
	traceID string
	res     sandbox.Result
}

// invoke runs one invocation with sns-subscribe's SNS event and a sampled
// trace header, as Lambda passes with active tracing.
func invoke(ctx context.Context, t *testing.T, sb *sandbox.Lambda) invocation {
	t.Helper()
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	traceID := fmt.Sprintf("1-%08x-%s", time.Now().Unix(), h[:24])
	payload, err := json.Marshal(events.SNSEvent{Records: []events.SNSEventRecord{{
		EventSource: "aws:sns",
		SNS: events.SNSEntity{
			Type: "Notification", MessageID: sandbox.NewRequestID(), Message: "Simulated Message",
			TopicArn: "arn:aws:sns:us-east-1:123456789012:second-topic", Timestamp: time.Now().UTC(),
		},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := sb.Invoke(ctx, payload, fmt.Sprintf("Root=%s;Parent=%s;Sampled=1", traceID, h[24:]))
	if err != nil {
		t.Fatal(err)
	}
	return invocation{traceID: traceID, res: res}
}

// waitForLines waits a few seconds until out holds n lines containing s,
// and returns those it holds by then.
func waitForLines(ctx context.Context, out *syncBuffer, s string, n int) []string {
	deadline := time.Now().Add(5 * time.Second)
	for {
		var found []string
		for line := range strings.SplitSeq(out.String(), "\n") {
			if strings.Contains(line, s) {
				found = append(found, line)
			}
		}
		if len(found) >= n || time.Now().After(deadline) || ctx.Err() != nil {
			return found
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer the sandbox's copying goroutines and the test
// may use at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func hasSpan(spans []*tracepb.Span, name string) bool {
	for _, s := range spans {
		if s.Name == name {
			return true
		}
	}
	return false
}

func names(spans []*tracepb.Span) []string {
	out := make([]string, 0, len(spans))
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}
