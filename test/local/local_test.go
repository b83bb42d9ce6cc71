// Package local tests `make run` end to end: the local runner (cmd/local)
// started as a user starts it, with its real emulators and Jaeger, driven
// over HTTP, and checked through Jaeger's HTTP API and DynamoDB.
package local

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/internal/functions/pattern"
	"github.com/xray-tracer/xray-tracer/internal/functions/sqssubscribe"
	"github.com/xray-tracer/xray-tracer/internal/local/jaegerapi"
)

// readyWithin bounds the runner's start: on a fresh machine it builds
// Jaeger first (6-15 minutes on 2 cores).
const readyWithin = 25 * time.Minute

// runner is cmd/local running as a child process.
type runner struct {
	cmd   *exec.Cmd
	out   string // its -out directory
	addrs map[string]string
	lines chan string
	log   *strings.Builder
	logMu *sync.Mutex
	done  chan error
}

// buildRunner builds cmd/local, and returns the repository's root (where
// it runs) and the binary.
func buildRunner(t *testing.T) (root, bin string) {
	t.Helper()
	root, err := pattern.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin = filepath.Join(t.TempDir(), "local")
	build := exec.Command("go", "build", "-o", bin, "./cmd/local")
	build.Dir = root
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build cmd/local: %v\n%s", err, b)
	}
	return root, bin
}

// startRunner builds cmd/local and starts it on free ports, with extra
// flags, and waits until it says it is ready.
func startRunner(t *testing.T, extra ...string) *runner {
	t.Helper()
	return startRunnerEnv(t, nil, extra...)
}

// startRunnerEnv is startRunner with env added to the runner's environment;
// a flag in extra overrides the free port startRunner gives it.
func startRunnerEnv(t *testing.T, env []string, extra ...string) *runner {
	t.Helper()
	root, bin := buildRunner(t)

	r := &runner{out: t.TempDir(), addrs: map[string]string{}, lines: make(chan string, 1000), log: &strings.Builder{}, logMu: &sync.Mutex{}, done: make(chan error, 1)}
	args := []string{"-out", r.out}
	for _, flag := range []string{"api", "jaeger", "otlp", "goaws", "dynalite", "xray"} {
		r.addrs[flag] = freeAddr(t)
		if i := slices.Index(extra, "-"+flag); i >= 0 && i+1 < len(extra) {
			r.addrs[flag] = extra[i+1]
		}
		args = append(args, "-"+flag, r.addrs[flag])
	}
	r.cmd = exec.Command(bin, append(args, extra...)...)
	r.cmd.Dir = root
	r.cmd.Env = append(append(os.Environ(), "OTEL_TRACES_EXPORTER=otlp"), env...)
	stdout, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r.cmd.Stderr = r.cmd.Stdout
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			r.logMu.Lock()
			r.log.WriteString(sc.Text() + "\n")
			r.logMu.Unlock()
			select {
			case r.lines <- sc.Text():
			default:
			}
		}
		r.done <- r.cmd.Wait()
	}()
	t.Cleanup(func() {
		// A failed test still stops the stack.
		_ = r.cmd.Process.Signal(os.Interrupt)
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			_ = r.cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("runner output:\n%s", r.output())
		}
	})

	deadline := time.After(readyWithin)
	for {
		select {
		case line := <-r.lines:
			if strings.HasPrefix(line, "ready in ") {
				t.Log(line)
				return r
			}
			if strings.HasPrefix(line, "building ") || strings.Contains(line, "still building") {
				t.Log(line)
			}
		case err := <-r.done:
			t.Fatalf("the runner exited before it was ready: %v\n%s", err, r.output())
		case <-deadline:
			t.Fatalf("the runner was not ready within %v\n%s", readyWithin, r.output())
		}
	}
}

func (r *runner) output() string {
	r.logMu.Lock()
	defer r.logMu.Unlock()
	return r.log.String()
}

// freeAddr is a loopback address no one listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// sent is one request and what the API answered.
type sent struct {
	path    string
	status  int
	traceID trace.TraceID
}

func get(t *testing.T, method, url string) sent {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	s := sent{path: req.URL.Path, status: resp.StatusCode}
	if h := resp.Header.Get("X-Amzn-Trace-Id"); h != "" {
		s.traceID = rootOf(t, h)
	}
	return s
}

// rootOf reads the Root of an X-Ray trace header.
func rootOf(t *testing.T, header string) trace.TraceID {
	t.Helper()
	for part := range strings.SplitSeq(header, ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "Root="); ok && strings.HasPrefix(v, "1-") {
			id, err := trace.TraceIDFromHex(strings.ReplaceAll(v[2:], "-", ""))
			if err != nil {
				t.Fatalf("trace header %q: %v", header, err)
			}
			return id
		}
	}
	t.Fatalf("trace header %q has no Root", header)
	return trace.TraceID{}
}

func TestLocalStack(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole local stack (and builds Jaeger the first time)")
	}
	start := time.Now().Add(-time.Second)
	// A low throttle, so that a flood meets it.
	// A short visibility timeout, so that a failed record comes back
	// within seconds, and sqs-subscribe's timeout below it, as Lambda
	// requires.
	r := startRunner(t, "-rate", "5", "-burst", "10", "-visibility-timeout", "3", "-sqs-subscribe-timeout", "2s")
	api := "http://" + r.addrs["api"]

	var good []sent
	for _, p := range []string{"/", "/hello", "/orders/42", "/a/b/c", "/hello"} {
		s := get(t, http.MethodGet, api+p)
		if s.status != http.StatusOK || !s.traceID.IsValid() {
			t.Fatalf("GET %s: %d, trace %v; want 200 and a trace header", p, s.status, s.traceID)
		}
		good = append(good, s)
	}
	time.Sleep(2 * time.Second) // the bucket refills

	t.Run("bad input gets API Gateway's answer", func(t *testing.T) {
		tests := []struct {
			name, method, path string
			want               int
		}{
			{"unknown method", http.MethodPost, "/hello", http.StatusForbidden},
			{"delete", http.MethodDelete, "/", http.StatusForbidden},
			{"huge path", http.MethodGet, "/" + strings.Repeat("a", 9000), http.StatusRequestURITooLong},
			{"bad encoding", http.MethodGet, "/%zz", http.StatusBadRequest},
		}
		for _, tt := range tests {
			// A raw request: Go's client would refuse the bad escape.
			if got := rawStatus(t, r.addrs["api"], tt.method, tt.path); got != tt.want {
				t.Errorf("%s: %s %.20s… = %d, want %d", tt.name, tt.method, tt.path, got, tt.want)
			}
		}
	})

	t.Run("a flood is throttled and every accepted request counted", func(t *testing.T) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		statuses := map[int]int{}
		for range 40 {
			wg.Go(func() {
				s := get(t, http.MethodGet, api+"/flood")
				mu.Lock()
				defer mu.Unlock()
				statuses[s.status]++
				if s.status == http.StatusOK {
					good = append(good, s)
				}
			})
		}
		wg.Wait()
		if statuses[http.StatusTooManyRequests] == 0 || statuses[http.StatusOK] == 0 || statuses[http.StatusOK]+statuses[http.StatusTooManyRequests] != 40 {
			t.Errorf("40 requests at once: %v, want some 200 and the rest 429", statuses)
		}
	})

	jaeger := &jaegerapi.Client{BaseURL: "http://" + r.addrs["jaeger"], HTTP: &http.Client{Timeout: 10 * time.Second}}
	var traces []jaegerapi.Trace
	t.Run("every request's trace is complete in Jaeger", func(t *testing.T) {
		traces = checkTraces(t, jaeger, good, start)
	})
	t.Run("no span holds a credential or a message body beyond the pattern's annotations", func(t *testing.T) {
		checkNoSecrets(t, traces)
	})

	t.Run("DynamoDB counts every accepted request", func(t *testing.T) {
		want := map[string]int{}
		for _, s := range good {
			want[s.path]++
		}
		var got map[string]int
		deadline := time.Now().Add(30 * time.Second)
		for {
			got = scanHits(t, r.addrs["dynalite"])
			if maps.Equal(got, want) || time.Now().After(deadline) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if !maps.Equal(got, want) {
			t.Errorf("Hits = %v, want %v", got, want)
		}
	})

	qs := newQueues(t, r.addrs["goaws"])
	t.Run("a poison record beside a slow one is retried alone, then dead-lettered", func(t *testing.T) {
		checkRedrive(t, qs, jaeger)
	})

	t.Run("a batch that times out comes back whole after the visibility timeout", func(t *testing.T) {
		checkTimeoutMidBatch(t, qs, jaeger)
	})

	t.Run("Ctrl-C stops every process and frees every port", func(t *testing.T) {
		pids := readPIDs(t, r.out)
		if len(pids) < 3+6 {
			t.Fatalf("pids = %v, want the emulators, Jaeger and the functions' sandboxes", pids)
		}
		if err := r.cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("the runner exited with %v after Ctrl-C, want 0", err)
			}
			r.done <- err // for the cleanup
		case <-time.After(30 * time.Second):
			t.Fatal("the runner did not stop within 30 s of Ctrl-C")
		}
		for _, pid := range pids {
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("process %d still exists after the stop (kill 0: %v)", pid, err)
			}
		}
		for name, addr := range r.addrs {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				t.Errorf("%s's port %s is still taken: %v", name, addr, err)
				continue
			}
			_ = ln.Close()
		}
	})
}

// queues is the runner's SQS emulator, seen as a client of the queue.
type queues struct {
	q          *sqs.Client
	queue, dlq string // URLs
}

func newQueues(t *testing.T, addr string) *queues {
	q := sqs.New(sqs.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String("http://" + addr),
	})
	url := func(name string) string {
		out, err := q.GetQueueUrl(t.Context(), &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
		if err != nil {
			t.Fatalf("GetQueueUrl %s: %v", name, err)
		}
		return aws.ToString(out.QueueUrl)
	}
	return &queues{q: q, queue: url("hello-queue"), dlq: url("hello-dlq")}
}

// send puts bodies on the queue in one SendMessageBatch, so that the event
// source receives them as one batch.
func (qs *queues) send(t *testing.T, bodies ...string) {
	t.Helper()
	var entries []sqstypes.SendMessageBatchRequestEntry
	for i, b := range bodies {
		entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(b)})
	}
	out, err := qs.q.SendMessageBatch(t.Context(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(qs.queue), Entries: entries})
	if err != nil || len(out.Failed) > 0 {
		t.Fatalf("SendMessageBatch: %v %v", err, out)
	}
}

// empty checks that the queue holds nothing, visible or in flight.
func (qs *queues) empty(t *testing.T) {
	t.Helper()
	attrs, err := qs.q.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(qs.queue), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible} {
		if n := attrs.Attributes[string(a)]; n != "0" {
			t.Errorf("hello-queue %s = %s, want 0", a, n)
		}
	}
}

// receipt is one record's process_message span: in which sqs-subscribe
// invocation's trace, on which receive, and whether it failed.
type receipt struct {
	trace   trace.TraceID
	start   time.Time
	receive string // ApproximateReceiveCount
	failed  bool
}

// receipts reads from Jaeger every process_message span of sqs-subscribe
// since start, by the body of its record, and the traces of the
// invocations that timed out (the Lambda service's span says
// Sandbox.Timedout). A span names its record's body as the pattern allows:
// a greeting's annotation, a slow record's duration, a failure's message
// (goaws's answer to SendMessageBatch gives the SDK no message ids).
func receipts(t *testing.T, jaeger *jaegerapi.Client, start time.Time) (map[string][]receipt, []trace.TraceID) {
	t.Helper()
	trs, err := jaeger.Traces(t.Context(), jaegerapi.Query{Service: "sqs-subscribe", Start: start, End: time.Now().Add(time.Second), Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]receipt{}
	var timedOut []trace.TraceID
	for _, tr := range trs {
		if slices.ContainsFunc(tr.Find("sqs-subscribe", "sqs-subscribe"), func(s jaegerapi.Span) bool { return strings.Contains(s.Message, "Sandbox.Timedout") }) {
			timedOut = append(timedOut, tr.ID)
		}
		for _, s := range tr.Find("sqs-subscribe", "process_message") {
			r := receipt{trace: tr.ID, start: s.Start, failed: s.Error}
			var body string
			for _, a := range s.Attributes {
				switch a.Key {
				case "message":
					body = a.Value.AsString()
				case "slow":
					body = "slow " + a.Value.AsString()
				case "approximate_receive_count":
					r.receive = a.Value.AsString()
				}
			}
			if s.Error && strings.Contains(s.Message, strconv.Quote(sqssubscribe.PoisonBody)) {
				body = sqssubscribe.PoisonBody
			}
			got[body] = append(got[body], r)
		}
	}
	for _, rs := range got {
		slices.SortFunc(rs, func(a, b receipt) int { return a.start.Compare(b.start) })
	}
	return got, timedOut
}

// checkRedrive sends a batch with a poison record, a slow one and good ones
// straight to the queue: the poison record alone is reported as a batch
// item failure, received again after each visibility timeout and moved to
// the dead-letter queue after maxReceiveCount (3) receives; the others,
// the slow one included, are processed once and deleted.
func checkRedrive(t *testing.T, qs *queues, jaeger *jaegerapi.Client) {
	start := time.Now().Add(-time.Second)
	bodies := []string{sqssubscribe.PoisonBody, sqssubscribe.SlowBody(time.Second)}
	for i := range 3 {
		bodies = append(bodies, "hello from /redrive/"+strconv.Itoa(i))
	}
	qs.send(t, bodies...)

	var dead []string
	deadline := time.Now().Add(60 * time.Second)
	for len(dead) == 0 && time.Now().Before(deadline) {
		got, err := qs.q.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(qs.dlq), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatalf("receive from the dead-letter queue: %v", err)
		}
		for _, m := range got.Messages {
			dead = append(dead, aws.ToString(m.Body))
			// Read, then gone: the next check expects the queue empty.
			if _, err := qs.q.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: aws.String(qs.dlq), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatalf("delete from the dead-letter queue: %v", err)
			}
		}
	}
	if !slices.Equal(dead, []string{sqssubscribe.PoisonBody}) {
		t.Errorf("dead-letter queue holds %q, want only the poison record", dead)
	}
	qs.empty(t)

	got, _ := receipts(t, jaeger, start)
	first := got[sqssubscribe.PoisonBody]
	if len(first) != 3 {
		t.Fatalf("the poison record was processed %d times (%+v), want maxReceiveCount = 3", len(first), first)
	}
	for i, r := range first {
		if !r.failed || r.receive != strconv.Itoa(i+1) {
			t.Errorf("the poison record's receive %d: %+v, want a failure on receive %d", i+1, r, i+1)
		}
	}
	for _, body := range bodies[1:] {
		rs := got[body]
		if len(rs) != 1 || rs[0].failed || rs[0].receive != "1" {
			t.Errorf("%q: processed %+v, want once, on the first receive, without failure (then deleted)", body, rs)
			continue
		}
		if rs[0].trace != first[0].trace {
			t.Errorf("%q was processed in trace %s, the poison record in %s: want one batch", body, rs[0].trace, first[0].trace)
		}
	}
}

// checkTimeoutMidBatch sends a batch whose second record holds the function
// past its timeout (-sqs-subscribe-timeout 2s): the invocation times out
// with the first record processed and the last two not reached. Lambda
// deletes nothing of a timed-out batch, so every record, the one processed
// included, comes back after the visibility timeout (3 s), is processed,
// and is deleted: none is lost, none dead-lettered.
func checkTimeoutMidBatch(t *testing.T, qs *queues, jaeger *jaegerapi.Client) {
	start := time.Now().Add(-time.Second)
	bodies := []string{"hello from /timeout/0", sqssubscribe.SlowBody(time.Minute), "hello from /timeout/1", "hello from /timeout/2"}
	qs.send(t, bodies...)

	var (
		got      map[string][]receipt
		timedOut []trace.TraceID
		done     bool
	)
	for deadline := time.Now().Add(60 * time.Second); !done && time.Now().Before(deadline); time.Sleep(time.Second) {
		got, timedOut = receipts(t, jaeger, start)
		done = true
		for _, body := range bodies {
			if !slices.ContainsFunc(got[body], func(r receipt) bool { return r.receive == "2" && !r.failed }) {
				done = false
			}
		}
	}
	if len(timedOut) != 1 {
		t.Errorf("%d sqs-subscribe invocations timed out (%v), want the first", len(timedOut), timedOut)
	}
	for _, body := range bodies {
		if !done {
			t.Errorf("%q: processed %+v, want a success on the second receive", body, got[body])
		}
	}
	if rs := got[bodies[0]]; len(rs) != 2 || len(timedOut) == 1 && rs[0].trace != timedOut[0] {
		t.Errorf("the first record: processed %+v, want once in the invocation that timed out (%v), and again", rs, timedOut)
	}
	for _, body := range bodies[2:] {
		if rs := got[body]; len(rs) != 1 {
			t.Errorf("%q, after the slow one: processed %+v, want once, after the timeout", body, rs)
		}
	}
	qs.empty(t)
	n, err := qs.q.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(qs.dlq), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil {
		t.Fatal(err)
	}
	if v := n.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)]; v != "0" {
		t.Errorf("the dead-letter queue holds %s visible messages, want none", v)
	}
}

// TestLocalStackConsole: the exporter is swapped by the environment only;
// with the console exporter no Jaeger starts, each function prints its spans
// as OpenTelemetry's stdout exporter does (JSON, a line per span), and the
// runner draws each function's part of every trace as a waterfall tree: no
// span's JSON reaches the terminal undrawn.
func TestLocalStackConsole(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole local stack")
	}
	root, bin := buildRunner(t)
	args := []string{"-out", t.TempDir(), "-requests", "2", "-exit"}
	for _, flag := range []string{"api", "goaws", "dynalite"} {
		args = append(args, "-"+flag, freeAddr(t))
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=console", "FAILURE_RATE=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("runner: %v\n%s", err, out)
	}
	for _, want := range []string{
		"traces     each function's part of every trace, drawn here",
		"       dynamo | trace 1-",
		"DynamoDB.UpdateItem (client)",
		"  sns-publish |       SNS.Publish (client)",
		"sqs-subscribe |     process_message",
		"complete traces (every function invoked; the traces themselves went to console): 2 of 2",
		"stopped: every process ended",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "starting Jaeger") {
		t.Errorf("Jaeger started with the console exporter")
	}
	if strings.Contains(string(out), `{"Name":`) {
		t.Errorf("a span's JSON went to the terminal as it is, not drawn:\n%s", out)
	}
	// Each function drew its part of every request's trace (sqs-subscribe:
	// of each batch's, which may hold both requests' messages).
	for fn, want := range map[string]int{"dynamo": 2, "http": 2, "sqs": 2, "sns-publish": 2, "sns-subscribe": 2, "sqs-subscribe": 1} {
		if n := strings.Count(string(out), fmt.Sprintf("%13s | trace 1-", fn)); n < want {
			t.Errorf("%s drew %d traces, want at least %d", fn, n, want)
		}
	}
	if strings.Contains(string(out), "incomplete: its root span has not ended") {
		t.Errorf("a trace was drawn before its root span ended:\n%s", out)
	}
}

// rawStatus sends a request line as written, and reads the status.
func rawStatus(t *testing.T, addr, method, path string) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", method, path, addr)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s %.20s…: %v", method, path, err)
	}
	defer resp.Body.Close()
	return resp.StatusCode
}

// The spans each request's trace must hold: each function's invocation
// span and its business and downstream spans, by service; and the AWS
// services' own spans.
var wantSpans = map[string][]string{
	"xray-tracer-api/prod": {"xray-tracer-api/prod", "SNS.Publish"},
	"fan-out":              {"fan-out"},
	"dynamo":               {"dynamo", "DynamoDB Query", "DynamoDB.UpdateItem"},
	"http":                 {"http", "external HTTP Request"},
	"sqs":                  {"sqs", "SQS Logic", "SQS.SendMessage"},
	"sns-publish":          {"sns-publish", "SNS Publish Logic", "SNS.Publish"},
	"second-topic":         {"second-topic"},
	"sns-subscribe":        {"sns-subscribe", "process_message"},
}

// checkTraces asks Jaeger for the traces of the window, as a person
// would: by service, with the required query.num_traces. It returns every
// trace it read: the requests' and sqs-subscribe's.
func checkTraces(t *testing.T, jaeger *jaegerapi.Client, reqs []sent, start time.Time) []jaegerapi.Trace {
	byID := map[trace.TraceID]jaegerapi.Trace{}
	linked := map[trace.TraceID]bool{} // producer traces that sqs-subscribe's spans link to
	var missing []string
	deadline := time.Now().Add(60 * time.Second)
	for {
		end := time.Now().Add(time.Second)
		ctx := t.Context()
		api, err := jaeger.Traces(ctx, jaegerapi.Query{Service: "xray-tracer-api/prod", Start: start, End: end, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range api {
			byID[tr.ID] = tr
		}
		consumers, err := jaeger.Traces(ctx, jaegerapi.Query{Service: "sqs-subscribe", Start: start, End: end, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range consumers {
			byID[tr.ID] = tr
			for _, s := range tr.Find("sqs-subscribe", "process_message") {
				for _, l := range s.Links {
					linked[l.TraceID()] = true
				}
			}
		}
		missing = missing[:0]
		for _, r := range reqs {
			if m := lacks(byID[r.traceID], linked[r.traceID]); m != "" {
				missing = append(missing, fmt.Sprintf("%s %s: %s", r.traceID, r.path, m))
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	for _, m := range missing {
		t.Error(m)
	}
	return slices.Collect(maps.Values(byID))
}

// lacks says what a request's trace lacks, or "".
func lacks(tr jaegerapi.Trace, linked bool) string {
	var out []string
	if len(tr.Spans) == 0 {
		return "not in Jaeger"
	}
	for service, names := range wantSpans {
		for _, name := range names {
			if len(tr.Find(service, name)) == 0 {
				out = append(out, service+": "+name)
			}
		}
	}
	if !linked {
		out = append(out, "no sqs-subscribe process_message span links to it")
	}
	// The trace is one tree: every parent is in it.
	ids := map[trace.SpanID]bool{}
	for _, s := range tr.Spans {
		ids[s.SpanID] = true
	}
	for _, s := range tr.Spans {
		if s.ParentID.IsValid() && !ids[s.ParentID] {
			out = append(out, fmt.Sprintf("%s: %s has a parent %s not in the trace", s.Service, s.Name, s.ParentID))
		}
	}
	slices.Sort(out)
	return strings.Join(out, "; ")
}

func scanHits(t *testing.T, addr string) map[string]int {
	t.Helper()
	db := dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String("http://" + addr),
	})
	out, err := db.Scan(t.Context(), &dynamodb.ScanInput{TableName: aws.String("Hits")})
	if err != nil {
		t.Fatalf("scan Hits: %v", err)
	}
	got := map[string]int{}
	for _, item := range out.Items {
		p, _ := item["path"].(*ddbtypes.AttributeValueMemberS)
		n, _ := item["hits"].(*ddbtypes.AttributeValueMemberN)
		if p != nil && n != nil {
			got[p.Value], _ = strconv.Atoi(n.Value)
		}
	}
	return got
}

func readPIDs(t *testing.T, dir string) []int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "pids"))
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for f := range strings.FieldsSeq(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("pids file: %v", err)
		}
		pids = append(pids, pid)
	}
	return pids
}
