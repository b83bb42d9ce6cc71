package sandbox

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OTLP/HTTP trace receiver: it keeps every span it is
// sent, and answers only once it has, so a span is here before the export
// that carried it returns. It takes latency to read each request, as a
// busy collector does, which widens the window in which an invocation can
// answer before its spans are here (while another invocation's export
// carries them): the test is not to depend on the scheduler to see that.
type otlpReceiver struct {
	latency time.Duration

	mu    sync.Mutex
	spans []*tracepb.Span
	errs  []error
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	time.Sleep(o.latency)
	body, err := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(body, &req)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if err != nil || r.URL.Path != "/v1/traces" {
		o.errs = append(o.errs, fmt.Errorf("%s %s: %v", r.Method, r.URL.Path, err))
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			o.spans = append(o.spans, ss.Spans...)
		}
	}
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (o *otlpReceiver) received() ([]*tracepb.Span, []error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*tracepb.Span(nil), o.spans...), append([]error(nil), o.errs...)
}

// lockedBuffer collects a process's stderr, written by the process's copier
// and read by the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// buildRace builds the package at pkg with the race detector, as a bootstrap.
func buildRace(t *testing.T, pkg string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs a Lambda bootstrap")
	}
	path := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-race", "-tags", "lambda.norpc", "-o", path, pkg)
	// The race detector needs cgo.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s with -race: %v\n%s", pkg, err, out)
	}
	return path
}

// attr returns the value of the span's attribute key, nil if it has none.
func attr(s *tracepb.Span, key string) *commonpb.AnyValue {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return kv.Value
		}
	}
	return nil
}

// TestConcurrentInvocationsOfATracedBootstrap runs a function traced with
// otelsetup, built with -race, with several invocations in flight in one
// process, as Lambda Managed Instances run it (aws-lambda-go then polls
// concurrently and does not set _X_AMZN_TRACE_ID). Each invocation has its
// own X-Ray header; its spans must reach the collector before its answer,
// its invocation span must be a child of its own header's Parent in its own
// header's Root, exactly one invocation is the cold start, and the race
// detector reports nothing. It runs rounds of n invocations, each round held
// together in the handler: an invocation that answers before its spans are
// exported shows only when another's flush carries them, which a round may
// or may not provoke.
func TestConcurrentInvocationsOfATracedBootstrap(t *testing.T) {
	const n, rounds = 8, 3
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	collector := &otlpReceiver{latency: 100 * time.Millisecond}
	l, stderr := startTraced(ctx, t, collector, n, nil)

	type outcome struct {
		header, root, parent string
		res                  Result
		err                  error
		atAnswer             []*tracepb.Span // what the collector held when the answer came
	}
	cold := 0
	for round := range rounds {
		outcomes := make([]outcome, n)
		var wg sync.WaitGroup
		for i := range outcomes {
			o := &outcomes[i]
			o.root = fmt.Sprintf("66f0a1b2%024x", 0xabc000+round<<8+i)
			o.parent = fmt.Sprintf("%016x", 0x53995c3f42cd0000+round<<8+i)
			o.header = fmt.Sprintf("Root=1-%s-%s;Parent=%s;Sampled=1", o.root[:8], o.root[8:], o.parent)
			wg.Go(func() {
				o.res, o.err = l.Invoke(ctx, fmt.Appendf(nil, `{"round":%d,"n":%d}`, round, n), o.header)
				o.atAnswer, _ = collector.received()
			})
		}
		wg.Wait()

		for i, o := range outcomes {
			if o.err != nil {
				t.Fatalf("round %d, invocation %d: %v", round, i, o.err)
			}
			if o.res.Err != nil {
				t.Fatalf("round %d, invocation %d failed: %v", round, i, o.res.Err)
			}
			var inv *tracepb.Span
			for _, s := range o.atAnswer {
				if attr(s, "faas.invocation_id").GetStringValue() == o.res.RequestID {
					inv = s
				}
			}
			if inv == nil {
				t.Errorf("round %d, invocation %d (%s): its invocation span had not reached the collector when it answered", round, i, o.res.RequestID)
				continue
			}
			if got := hex.EncodeToString(inv.TraceId); got != o.root {
				t.Errorf("round %d, invocation %d: invocation span in trace %s, want its header's Root %s", round, i, got, o.root)
			}
			if got := hex.EncodeToString(inv.ParentSpanId); got != o.parent {
				t.Errorf("round %d, invocation %d: invocation span's parent %s, want its header's Parent %s", round, i, got, o.parent)
			}
			work := false
			for _, s := range o.atAnswer {
				work = work || (s.Name == "work" && bytes.Equal(s.ParentSpanId, inv.SpanId) && bytes.Equal(s.TraceId, inv.TraceId))
			}
			if !work {
				t.Errorf("round %d, invocation %d: its work span, a child of its invocation span, had not reached the collector when it answered", round, i)
			}
			if attr(inv, "faas.coldstart").GetBoolValue() {
				cold++
			}
		}
	}
	if cold != 1 {
		t.Errorf("%d invocation spans have faas.coldstart true, want exactly 1", cold)
	}

	if err := l.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, errs := collector.received(); len(errs) > 0 {
		t.Errorf("the collector got requests it could not read: %v", errs)
	}
	if out := stderr.String(); strings.Contains(out, "DATA RACE") {
		t.Errorf("the race detector reported a race in the bootstrap:\n%s", out)
	} else if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Errorf("the test ran out of time; stderr:\n%s", out)
	}
}

// startTraced runs testdata/traced, built with -race, behind the stand-in
// with maxConcurrency, exporting over OTLP/HTTP to collector, with env
// added; it returns the sandbox (closed at the test's end) and its stderr.
func startTraced(ctx context.Context, t *testing.T, collector *otlpReceiver, maxConcurrency int, env map[string]string) (*Lambda, *lockedBuffer) {
	t.Helper()
	bootstrap := buildRace(t, "./testdata/traced")
	srv := httptest.NewServer(collector)
	t.Cleanup(srv.Close)
	stderr := &lockedBuffer{}
	fnEnv := map[string]string{
		"OTEL_TRACES_EXPORTER":        "otlp",
		"OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL,
	}
	maps.Copy(fnEnv, env)
	l, err := Start(ctx, Function{
		Name:           "traced",
		Bootstrap:      bootstrap,
		MaxConcurrency: maxConcurrency,
		Timeout:        20 * time.Second, // -race slows the process down
		Env:            fnEnv,
		Stderr:         stderr,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l, stderr
}

// TestShutdownFlushesWhatIsLeft: a span that ends after its invocation's
// flush reaches the collector when the sandbox shuts down, which takes both
// halves of otelsetup's SIGTERM handling: the extension registered during
// Init, before the runtime's first poll (the stand-in, as Lambda, takes
// registrations only until then, and sends SIGTERM only to a process that
// registered, SIGKILL otherwise), and the shutdown that Setup installs for
// SIGTERM. Both ways into a traced handler hold it: otelsetup.Start, and
// lambda.Start around otelsetup.Wrap.
func TestShutdownFlushesWhatIsLeft(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
	}{
		{"otelsetup.Start", nil},
		{"lambda.Start(otelsetup.Wrap(...))", map[string]string{"TRACED_LAMBDA_START": "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testShutdownFlush(t, tt.env)
		})
	}
}

func testShutdownFlush(t *testing.T, env map[string]string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	collector := &otlpReceiver{}
	l, stderr := startTraced(ctx, t, collector, 0, env)

	// The header as Lambda passes it with active tracing, Lineage included
	// (the form quoted in the issue "otelsetup in production").
	res, err := l.Invoke(ctx, []byte(`{"round":0,"n":1,"after":50}`), "Root=1-66f0a1b2-000000000000000000abc001;Parent=53995c3f42cd0001;Sampled=1;Lineage=1:fe460cdd:0")
	if err != nil || res.Err != nil {
		t.Fatalf("invoke: %v, %v", err, res.Err)
	}
	for !strings.Contains(stderr.String(), "ended the span after the answer") {
		if ctx.Err() != nil {
			t.Fatalf("the function never ended its late span; stderr:\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	late := func() bool {
		spans, _ := collector.received()
		return slices.ContainsFunc(spans, func(s *tracepb.Span) bool { return s.Name == "after the answer" })
	}
	if late() {
		t.Fatal(`"after the answer" reached the collector before the shutdown: the test shows nothing`)
	}
	if err := l.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if !late() {
		t.Errorf("%q never reached the collector: no flush at SIGTERM; stderr:\n%s", "after the answer", stderr.String())
	}
	if out := stderr.String(); strings.Contains(out, "otelsetup:") {
		t.Errorf("otelsetup reported a failure:\n%s", out)
	}
}
