// Command local runs the whole pattern on this machine, with no AWS account:
// `make run`.
//
// It builds what it needs, then starts and supervises:
//   - DynamoDB (dynalite, from tools/dynalite's lockfile) and SNS and SQS
//     (goaws, from tools/goaws), reached by the functions through the AWS
//     SDK's endpoint variables;
//   - Jaeger (tools/jaeger, or $JAEGER_BIN, or a jaeger on PATH), which the
//     functions' OTLP exporter sends to;
//   - each function's real bootstrap behind the Lambda Runtime API
//     (internal/sandbox), invoked as Lambda would from the SNS
//     subscriptions and the SQS event source mapping (internal/localaws);
//   - an API Gateway stand-in on localhost:3000 (internal/apigw).
//
// It prints a line per request with its trace id; type a trace id (or just
// Enter for the latest) to see that trace as Jaeger holds it. Ctrl-C stops
// everything.
//
//	go run ./cmd/local                       # serve until Ctrl-C
//	go run ./cmd/local -requests 20 -exit    # 20 requests, a summary, exit status
//
// OTEL_TRACES_EXPORTER=console prints each function's traces in the
// terminal instead, and starts no Jaeger; none drops them.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/internal/functions/pattern"
	"github.com/xray-tracer/xray-tracer/internal/local/emulators"
	"github.com/xray-tracer/xray-tracer/internal/local/localaws"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

// settings are the runner's flags.
type settings struct {
	requests    int
	exit        bool
	api         string
	jaegerUI    string
	otlp        string
	goaws       string
	dynalite    string
	concurrency int
	visibility  int // the queue's visibility timeout, in seconds
	rate        float64
	burst       int
	outDir      string
	jaeger      bool // traces go to the local Jaeger
	stdout      io.Writer
}

func main() {
	var cfg settings
	flag.IntVar(&cfg.requests, "requests", 0, "send `N` requests at varied paths once the stack is up, and print a summary")
	flag.BoolVar(&cfg.exit, "exit", false, "stop after -requests; exit non-zero if a trace is incomplete or a hit is missing")
	flag.StringVar(&cfg.api, "api", "127.0.0.1:3000", "the API stand-in's address (sam local start-api's port)")
	flag.StringVar(&cfg.jaegerUI, "jaeger", "127.0.0.1:16686", "Jaeger's API and UI address")
	flag.StringVar(&cfg.otlp, "otlp", "127.0.0.1:4318", "Jaeger's OTLP/HTTP address")
	flag.StringVar(&cfg.goaws, "goaws", "127.0.0.1:4100", "the SNS and SQS emulator's address")
	flag.StringVar(&cfg.dynalite, "dynalite", "127.0.0.1:4567", "the DynamoDB emulator's address")
	flag.IntVar(&cfg.concurrency, "concurrency", 2, "sandboxes per function, and SQS pollers")
	// Shorter than the template's 60 s, so that a failed record comes back
	// within seconds; Lambda wants it at least the function's timeout (10 s).
	flag.IntVar(&cfg.visibility, "visibility-timeout", 10, "the queue's visibility timeout in `seconds`: a failed record comes back after it, and goes to the dead-letter queue after 3 receives")
	flag.Float64Var(&cfg.rate, "rate", 100, "the API's throttle: requests per second (429 past it)")
	flag.IntVar(&cfg.burst, "burst", 200, "the API's throttle: burst")
	flag.StringVar(&cfg.outDir, "out", "out/local", "where the logs and generated configs go")
	flag.Parse()
	cfg.stdout = os.Stdout

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdin); err != nil {
		fmt.Fprintf(os.Stderr, "local: %v\n", err)
		stop()
		os.Exit(1)
	}
}

// binaries are what the stack runs.
type binaries struct {
	functions map[string]string
	goaws     string
	dynalite  string
	jaeger    jaegerBinary
}

type jaegerBinary struct {
	path   string
	assets string // a jaeger-ui build, for a Jaeger without one embedded
	hasUI  bool
}

func run(ctx context.Context, cfg settings, stdin io.Reader) error {
	var outMu sync.Mutex
	say := func(format string, args ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(cfg.stdout, format+"\n", args...)
	}
	exporter := strings.TrimSpace(os.Getenv("OTEL_TRACES_EXPORTER"))
	cfg.jaeger = exporter == "" || exporter == "otlp"
	if cfg.jaeger {
		// OTLP goes to the local Jaeger: the functions' (which get the
		// runner's OTEL_* variables) and the runner's own AWS-side spans.
		for k, v := range map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + cfg.otlp,
			"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
		} {
			if err := os.Setenv(k, v); err != nil {
				return err
			}
		}
	}
	root, err := pattern.RepoRoot()
	if err != nil {
		return err
	}
	if !filepath.IsAbs(cfg.outDir) {
		cfg.outDir = filepath.Join(root, cfg.outDir)
	}
	if err := portsFree(cfg); err != nil {
		return err
	}
	begin := time.Now()
	bins, err := prepare(ctx, root, cfg, say)
	if err != nil {
		return err
	}
	s, err := start(ctx, cfg, bins, say)
	if err != nil {
		return err
	}
	defer func() {
		say("stopping…")
		s.stop(context.Background())
		say("stopped: every process ended, every port freed")
	}()
	say("ready in %v (logs in %s)", time.Since(begin).Round(100*time.Millisecond), cfg.outDir)
	if err := s.writePIDs(); err != nil {
		return err
	}
	s.printURLs(bins.jaeger)

	if cfg.requests > 0 {
		err := s.fire(ctx, cfg.requests)
		if err == nil {
			err = s.summary(ctx)
		}
		if cfg.exit || ctx.Err() != nil {
			return err
		}
		if err != nil {
			say("%v", err)
		}
	}
	if cfg.exit {
		return nil
	}
	go s.readCommands(ctx, stdin)
	select {
	case <-ctx.Done():
		return nil
	case err := <-s.exited():
		return fmt.Errorf("a process of the stack died: %w", err)
	}
}

// writePIDs lists the stack's child processes in pids, one per line, so
// that a test (or a person) can check that none is left after a stop.
func (s *stack) writePIDs() error {
	var b strings.Builder
	for _, pid := range s.pids() {
		fmt.Fprintln(&b, pid)
	}
	return os.WriteFile(filepath.Join(s.dir, "pids"), []byte(b.String()), 0o644)
}

// portsFree checks that no other program holds the stack's fixed ports: a
// Jaeger or collector left running would otherwise take the spans, and the
// readiness checks would ask it instead of the stack's own.
func portsFree(cfg settings) error {
	addrs := map[string]string{"the API": cfg.api, "goaws": cfg.goaws, "dynalite": cfg.dynalite}
	if cfg.jaeger {
		addrs["Jaeger's UI"], addrs["Jaeger's OTLP receiver"] = cfg.jaegerUI, cfg.otlp
	}
	var errs []error
	for what, addr := range addrs {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s's address %s is taken (another run, Jaeger or collector?): %w", what, addr, err))
			continue
		}
		_ = ln.Close()
	}
	return errors.Join(errs...)
}

// prepare builds or finds every program the stack runs.
func prepare(ctx context.Context, root string, cfg settings, say func(string, ...any)) (binaries, error) {
	bin := filepath.Join(root, "bin")
	b := binaries{goaws: filepath.Join(bin, "goaws")}
	say("building the functions")
	var err error
	if b.functions, err = pattern.Build(ctx, root, filepath.Join(bin, "local", "functions")); err != nil {
		return b, err
	}
	if err := emulators.BuildGoaws(ctx, root, b.goaws); err != nil {
		return b, err
	}
	if b.dynalite, err = emulators.InstallDynalite(ctx, root, say); err != nil {
		return b, err
	}
	if cfg.jaeger {
		b.jaeger, err = findJaeger(ctx, root, say)
	}
	return b, err
}

// findJaeger picks the Jaeger to run: $JAEGER_BIN, a jaeger on PATH (a
// release binary, with its UI), or tools/jaeger's build (no UI assets:
// $JAEGER_UI_ASSETS can name a jaeger-ui build).
func findJaeger(ctx context.Context, root string, say func(string, ...any)) (jaegerBinary, error) {
	j := jaegerBinary{assets: os.Getenv("JAEGER_UI_ASSETS")}
	if p := os.Getenv("JAEGER_BIN"); p != "" {
		j.path, j.hasUI = p, true
		return j, nil
	}
	if p := lookPath("jaeger"); p != "" {
		j.path, j.hasUI = p, true
		return j, nil
	}
	j.path = filepath.Join(root, "bin", "jaeger")
	if !emulators.UpToDate(j.path, filepath.Join(root, "tools", "jaeger", "go.mod"), filepath.Join(root, "tools", "jaeger", "go.sum")) {
		say("building Jaeger from tools/jaeger: the first build takes 6-15 minutes on 2 cores, later ones seconds")
	}
	err := buildTool(ctx, root, "jaeger", "github.com/jaegertracing/jaeger/cmd/jaeger", j.path, say)
	j.hasUI = j.assets != ""
	return j, err
}

func (s *stack) printURLs(j jaegerBinary) {
	s.say("")
	s.say("  API        http://%s/  (GET any path: it is published to the fan-out topic)", s.cfg.api)
	switch {
	case !s.cfg.jaeger:
		exporters := os.Getenv("OTEL_TRACES_EXPORTER")
		switch {
		case strings.Contains(exporters, "console"):
			s.say("  traces     printed by each function as it ends them (OTEL_TRACES_EXPORTER=%s)", exporters)
		case strings.TrimSpace(exporters) == "none":
			s.say("  traces     dropped (OTEL_TRACES_EXPORTER=none); no Jaeger started")
		default:
			s.say("  traces     sent where OTEL_TRACES_EXPORTER=%s says (xrayudp: to AWS_XRAY_DAEMON_ADDRESS, 127.0.0.1:2000 unless set); no Jaeger started", exporters)
		}
	case j.hasUI:
		s.say("  Jaeger UI  http://%s/", s.cfg.jaegerUI)
	default:
		s.say("  Jaeger API http://%s/api/v3/traces/<trace id>", s.cfg.jaegerUI)
		s.say("  The Jaeger built from the Go module has no UI assets: for the UI, set JAEGER_BIN to a Jaeger")
		s.say("  release binary, or JAEGER_UI_ASSETS to a jaeger-ui build. Traces show in the terminal meanwhile:")
		s.say("  type a trace id, or just Enter for the latest request's.")
	}
	s.say("  Ctrl-C stops everything.")
	s.say("")
}

// logRequests prints a line per request the API answers and keeps it for
// the summary.
func (s *stack) logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		h.ServeHTTP(rec, r)
		req := request{Method: r.Method, Path: r.URL.Path, Status: rec.status, Took: time.Since(start)}
		traceLabel := "not traced"
		if header := rec.Header().Get("X-Amzn-Trace-Id"); header != "" {
			if link, ok := otelsetup.LinkFromTraceHeader(header); ok {
				req.TraceID = link.SpanContext.TraceID()
				traceLabel = "trace " + xrayID(req.TraceID)
			}
		}
		s.mu.Lock()
		s.served = append(s.served, req)
		s.mu.Unlock()
		path := req.Path
		if len(path) > 60 {
			path = path[:57] + "..."
		}
		s.say("%s %s → %d in %v, %s", r.Method, path, rec.status, req.Took.Round(100*time.Microsecond), traceLabel)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

// observe keeps each invocation by trace, and which trace consumed the SQS
// messages sent in which.
func (s *stack) observe(inv localaws.Invocation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.invocations[inv.TraceID] = append(s.invocations[inv.TraceID], inv)
	if inv.Failure != nil {
		s.log.Warn("invocation could not run", "function", inv.Function, "error", inv.Failure)
	}
}

// xrayID writes a trace id as X-Ray does: 1-<8 hex>-<24 hex>.
func xrayID(id trace.TraceID) string {
	h := id.String()
	return "1-" + h[:8] + "-" + h[8:]
}

// parseTraceID reads a trace id in X-Ray's form or as 32 hex digits.
func parseTraceID(s string) (trace.TraceID, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "1-") {
		s = strings.ReplaceAll(s[2:], "-", "")
	}
	return trace.TraceIDFromHex(s)
}

// readCommands reads trace ids from stdin and prints their waterfalls.
func (s *stack) readCommands(ctx context.Context, stdin io.Reader) {
	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		var id trace.TraceID
		if line == "" {
			s.mu.Lock()
			for i := len(s.served) - 1; i >= 0; i-- {
				if s.served[i].TraceID.IsValid() {
					id = s.served[i].TraceID
					break
				}
			}
			s.mu.Unlock()
			if !id.IsValid() {
				s.say("no request yet: try curl http://%s/hello", s.cfg.api)
				continue
			}
		} else {
			var err error
			if id, err = parseTraceID(line); err != nil {
				s.say("%q is not a trace id (1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx)", line)
				continue
			}
		}
		if err := s.waterfall(ctx, id); err != nil {
			s.say("%v", err)
		}
	}
}

// waterfall prints a request's trace as Jaeger holds it, and the trace of
// its SQS consumer.
func (s *stack) waterfall(ctx context.Context, id trace.TraceID) error {
	if s.jaeger == nil {
		return errors.New("traces are not in Jaeger here (OTEL_TRACES_EXPORTER is not otlp): each function printed its own")
	}
	// The AWS services' spans of the trace may still be in the runner.
	s.spans.flush()
	ids := []trace.TraceID{id}
	s.mu.Lock()
	if c, ok := s.consumers[id]; ok {
		ids = append(ids, c)
	}
	s.mu.Unlock()
	var b strings.Builder
	for _, id := range ids {
		t, err := s.jaeger.Trace(ctx, id)
		if err != nil {
			return fmt.Errorf("trace %s: %w", xrayID(id), err)
		}
		if err := otelsetup.WriteWaterfall(&b, t.ReadOnlySpans()); err != nil {
			return err
		}
	}
	s.say("%s", strings.TrimRight(b.String(), "\n"))
	return nil
}

// paths are what -requests asks for, in turn.
var paths = []string{"/", "/hello", "/orders/42", "/a/b/c", "/hello"}

// fire sends n GET requests at the API, one after the other.
func (s *stack) fire(ctx context.Context, n int) error {
	s.say("sending %d requests", n)
	client := &http.Client{Timeout: 30 * time.Second}
	for i := range n {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.cfg.api+paths[i%len(paths)], nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("request %d: %w", i+1, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	return nil
}

// The services every request's trace must hold: the API stage, both
// topics, and every function but the SQS consumer (whose trace links to
// the request's).
var requestServices = []string{apiName, fanoutTopic, "dynamo", "http", "sqs", "sns-publish", secondTopic, "sns-subscribe"}

// completeWait bounds how long the summary waits for traces and hits: the
// http function's retries take 3 s, an SQS record that failed comes back
// after the visibility timeout.
const completeWait = 30 * time.Second

// summary waits until every answered request's trace is complete and every
// hit is counted (or completeWait passes), and prints what it found.
func (s *stack) summary(ctx context.Context) error {
	s.mu.Lock()
	served := slices.Clone(s.served)
	s.mu.Unlock()
	want := map[string]int{}
	var traced []request
	for _, r := range served {
		if r.Status == http.StatusOK {
			want[r.Path]++
			traced = append(traced, r)
		}
	}
	s.say("waiting for the traces and hits of %d requests", len(traced))
	ctx, cancel := context.WithTimeout(ctx, completeWait)
	defer cancel()
	var (
		incomplete []string
		hits       map[string]int
		err        error
	)
	for {
		incomplete = s.incomplete(ctx, traced)
		hits, err = s.hits(ctx)
		if err == nil && len(incomplete) == 0 && hitsMatch(hits, want) {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
			continue
		}
		break
	}
	if err != nil {
		return err
	}

	s.mu.Lock()
	var failed, calls int
	for _, invs := range s.invocations {
		for _, inv := range invs {
			calls++
			if inv.Failed() {
				failed++
			}
		}
	}
	s.mu.Unlock()
	s.say("")
	s.say("summary: %d requests (%d answered 200), %d invocations, %d failed (the http function fails on purpose at FAILURE_RATE; Lambda retries it)",
		len(served), len(traced), calls, failed)
	st := s.mapping.Stats()
	s.say("  SQS event source: %d polls (%d failed), %d batches of %d records, %d deleted, %d left for a retry",
		st.Polls, st.FailedPolls, st.Batches, st.Records, st.Deleted, st.Kept)
	where := "in Jaeger"
	if s.jaeger == nil {
		where = "(every function invoked; the traces themselves went to " + os.Getenv("OTEL_TRACES_EXPORTER") + ")"
	}
	s.say("  complete traces %s: %d of %d", where, len(traced)-len(incomplete), len(traced))
	for _, m := range incomplete {
		s.say("  incomplete: %s", m)
	}
	var missing []string
	keys := make([]string, 0, len(want))
	for p := range want {
		keys = append(keys, p)
	}
	slices.Sort(keys)
	s.say("  hits per path (DynamoDB %s):", tableName)
	for _, p := range keys {
		mark := ""
		if hits[p] != want[p] {
			mark = fmt.Sprintf("  MISSING: want %d", want[p])
			missing = append(missing, p)
		}
		s.say("    %-20s %d%s", p, hits[p], mark)
	}
	if len(traced) > 0 && s.jaeger != nil {
		last := traced[len(traced)-1].TraceID
		s.say("")
		s.say("the last request's trace, as Jaeger has it:")
		if err := s.waterfall(ctx, last); err != nil {
			s.say("  %v", err)
		}
	}
	switch {
	case len(incomplete) > 0 && len(missing) > 0:
		return fmt.Errorf("%d incomplete traces and missing hits for %s", len(incomplete), strings.Join(missing, ", "))
	case len(incomplete) > 0:
		return fmt.Errorf("%d incomplete traces", len(incomplete))
	case len(missing) > 0:
		return fmt.Errorf("missing hits for %s", strings.Join(missing, ", "))
	}
	return nil
}

func hitsMatch(got, want map[string]int) bool {
	for p, n := range want {
		if got[p] != n {
			return false
		}
	}
	return true
}

// incomplete checks each request's trace in Jaeger and says what is
// missing from those that are not whole.
//
// Without Jaeger (another exporter), what the runner saw stands in: every
// function invoked in the request's trace, and sqs-subscribe invoked with a
// link to it.
func (s *stack) incomplete(ctx context.Context, reqs []request) []string {
	check := s.checkTrace
	if s.jaeger == nil {
		check = s.checkInvocations
	}
	var out []string
	for _, r := range reqs {
		if msg := check(ctx, r.TraceID); msg != "" {
			out = append(out, xrayID(r.TraceID)+" "+r.Path+": "+msg)
		}
	}
	return out
}

// checkInvocations says which functions the runner has not invoked yet for
// the request whose trace is id.
func (s *stack) checkInvocations(_ context.Context, id trace.TraceID) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	invoked := map[string]bool{}
	for _, inv := range s.invocations[id] {
		invoked[inv.Function] = true
	}
	for _, invs := range s.invocations {
		for _, inv := range invs {
			if inv.Function == "sqs-subscribe" && slices.Contains(inv.Links, id) {
				invoked["sqs-subscribe"] = true
			}
		}
	}
	var lack []string
	for _, fn := range pattern.Functions {
		if !invoked[fn] {
			lack = append(lack, fn)
		}
	}
	if len(lack) == 0 {
		return ""
	}
	return "not invoked yet: " + strings.Join(lack, ", ")
}

// checkTrace says what the trace of one request lacks: a service, or the
// SQS consumer's trace linked to it.
func (s *stack) checkTrace(ctx context.Context, id trace.TraceID) string {
	t, err := s.jaeger.Trace(ctx, id)
	if err != nil {
		return err.Error()
	}
	have := t.Services()
	var lack []string
	for _, svc := range requestServices {
		if !have[svc] {
			lack = append(lack, svc)
		}
	}
	s.mu.Lock()
	consumer, ok := s.consumers[id]
	s.mu.Unlock()
	if !ok {
		// Find the sqs-subscribe invocation whose links name this trace.
		s.mu.Lock()
		for tid, invs := range s.invocations {
			for _, inv := range invs {
				if inv.Function == "sqs-subscribe" && slices.Contains(inv.Links, id) {
					consumer, ok = tid, true
					s.consumers[id] = tid
				}
			}
		}
		s.mu.Unlock()
	}
	if !ok {
		lack = append(lack, "sqs-subscribe (no consumer trace linked to it yet)")
	} else if ct, err := s.jaeger.Trace(ctx, consumer); err != nil || !ct.Services()["sqs-subscribe"] {
		lack = append(lack, "sqs-subscribe's trace "+xrayID(consumer))
	}
	if len(lack) == 0 {
		return ""
	}
	return "no " + strings.Join(lack, ", ")
}
