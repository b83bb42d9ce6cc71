// Package sandbox stands in for the Lambda service where no AWS account is
// at hand: it runs a function's real bootstrap as a child process and feeds
// it invocations through the Lambda Runtime API, so that what is tested or
// run locally is the very binary Lambda runs, entered the same way. The
// fidelity tests, the local runner (cmd/local) and the benchmarks all use it.
package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Lambda stands in for the Lambda service running one function: it starts the
// function's real bootstrap as a child process and drives it through the
// Lambda Runtime API, as a Lambda execution environment (sandbox) does.
//
// Runtime API reference: https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
//
// Like a sandbox it runs one invocation at a time, unless the function has a
// MaxConcurrency (see there). When the process exits between invocations
// (aws-lambda-go exits after reporting a panic), the next Invoke starts a
// fresh one: a new cold start, as Lambda replaces a crashed sandbox. It does
// not emulate scaling out to several sandboxes, extensions, response
// streaming or payload limits, and records no segments of its own: a caller
// that wants Lambda's AWS::Lambda segments builds them from Result and
// XRay.Add.
type Lambda struct {
	fn  Function
	arn string
	ln  net.Listener
	srv *http.Server

	turns  chan struct{} // holds a token per Invoke running; MaxConcurrency of them
	closed chan struct{}

	startMu sync.Mutex // held while a process is started, so concurrent Invokes start one

	mu       sync.Mutex
	closing  bool
	proc     *process               // the current process, even once it has exited
	inflight map[string]*invocation // delivered, not yet answered; by request ID
	initDur  time.Duration
}

// Function describes the function a Lambda runs.
type Function struct {
	// Name is the function's name (AWS_LAMBDA_FUNCTION_NAME and the ARN).
	Name string
	// Bootstrap is the path of the executable, as deployed on a provided.al2023
	// runtime; its directory is LAMBDA_TASK_ROOT and the working directory.
	Bootstrap string
	// Env is added to the process's environment last, so it can override the
	// defaults below; tracing variables such as AWS_XRAY_DAEMON_ADDRESS or
	// OTEL_* go here.
	Env map[string]string
	// Region is AWS_REGION and AWS_DEFAULT_REGION; default us-east-1.
	Region string
	// MemoryMB is AWS_LAMBDA_FUNCTION_MEMORY_SIZE; default 128, as in Lambda.
	MemoryMB int
	// Timeout bounds an invocation, from its delivery; default 3 s, as in Lambda.
	Timeout time.Duration
	// MaxConcurrency above 1 runs the function as Lambda Managed Instances
	// do: up to that many invocations in flight in the one process, each
	// delivered to its own /next poll with its own request ID, deadline and
	// trace header, and AWS_LAMBDA_MAX_CONCURRENCY set in the process's
	// environment, which tells aws-lambda-go to poll that many times at once
	// (lambdacontext.MaxConcurrency; aws/aws-lambda-go pull request 600:
	// "This environment variable is set by Lambda when a function is
	// configured to use Managed Instances"). A timed-out invocation then
	// fails alone: the process keeps running and serving the others, and the
	// handler's late answer is accepted and dropped, as the Managed
	// Instances documentation describes ("Independent timeouts";
	// https://docs.aws.amazon.com/lambda/latest/dg/lambda-managed-instances-execution-environment.html).
	// Set it here, not in Env. 0 or 1: one invocation at a time.
	MaxConcurrency int
	// Stdout and Stderr receive copies of the process's output; nil discards.
	Stdout, Stderr io.Writer
}

// Result is the outcome of one invocation.
type Result struct {
	RequestID string
	// Payload is the function's response or, when Err is set, the error
	// document the runtime posted, as Lambda's Invoke API returns it.
	Payload []byte
	// Err is set when the function failed: it posted to /error, or timed out.
	Err *InvokeError
	// Duration runs from the /next answer that delivered the invocation to
	// the runtime's response (or the timeout).
	Duration time.Duration
	// Started is when the invocation was delivered to the runtime.
	Started time.Time
	// ColdStart is true for the first invocation a process serves.
	ColdStart bool
}

// InvokeError is a function error, in the documented Lambda error format that
// runtimes post to /error and /init/error.
type InvokeError struct {
	Message    string          `json:"errorMessage"`
	Type       string          `json:"errorType"`
	StackTrace json.RawMessage `json:"stackTrace,omitempty"`
	// XRayCause is the Lambda-Runtime-Function-Xray-Error-Cause header that
	// aws-lambda-go sends with an error: the cause Lambda puts on the
	// function's segment.
	XRayCause json.RawMessage `json:"-"`
}

func (e *InvokeError) Error() string { return e.Type + ": " + e.Message }

const (
	accountID        = "123456789012"
	runtimeAPIBase   = "/2018-06-01/runtime"
	extensionAPIBase = "/2020-01-01/extension"
	stderrTailBytes  = 4 << 10
	// initLimit is Lambda's limit on the Init phase of an on-demand function.
	initLimit = 10 * time.Second
	// stopGrace is how long Close waits after SIGTERM before it kills: the
	// Shutdown phase's limit for a function with an internal extension,
	// which is what aws-lambda-go registers to get SIGTERM
	// (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html#runtimes-lifecycle-shutdown).
	stopGrace = 500 * time.Millisecond
	// restartLimit bounds how often one Invoke replaces a process that exits
	// before taking the invocation, so a crashing bootstrap fails the call.
	restartLimit = 3
)

// ErrClosed is returned by Invoke after Close.
var ErrClosed = errors.New("sandbox: Lambda stand-in is closed")

// Start starts the Runtime API on a random port of 127.0.0.1 and the
// function's process, and returns once the process first polls for an
// invocation (the end of its Init phase). It fails if the process exits or
// reports an init error first, or does not poll within Lambda's 10 s init
// limit or before ctx ends; the error carries the tail of its stderr. ctx
// bounds the start only, not the process's life: Close ends that.
func Start(ctx context.Context, fn Function) (*Lambda, error) {
	if fn.Name == "" || fn.Bootstrap == "" {
		return nil, errors.New("sandbox: Function needs a Name and a Bootstrap")
	}
	if fn.Region == "" {
		fn.Region = "us-east-1"
	}
	if fn.MemoryMB == 0 {
		fn.MemoryMB = 128
	}
	if fn.Timeout == 0 {
		fn.Timeout = 3 * time.Second
	}
	if _, ok := fn.Env["AWS_LAMBDA_MAX_CONCURRENCY"]; ok {
		return nil, errors.New("sandbox: set Function.MaxConcurrency, not AWS_LAMBDA_MAX_CONCURRENCY in Env, so that the stand-in serves as many invocations at once as the runtime polls for")
	}
	fn.MaxConcurrency = max(fn.MaxConcurrency, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sandbox: Runtime API: %w", err)
	}
	l := &Lambda{
		fn:       fn,
		arn:      fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", fn.Region, accountID, fn.Name),
		ln:       ln,
		turns:    make(chan struct{}, fn.MaxConcurrency),
		closed:   make(chan struct{}),
		inflight: map[string]*invocation{},
	}
	l.srv = &http.Server{Handler: l.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = l.srv.Serve(ln) }()
	if _, err := l.start(ctx); err != nil {
		_ = l.srv.Close()
		return nil, err
	}
	return l, nil
}

// Invoke delivers one invocation with payload as its event and waits for the
// function's answer. traceHeader goes unchanged into Lambda-Runtime-Trace-Id
// (empty sends none). A function error or a timeout is a Result with Err set;
// an error is returned when the invocation could not run: the process died
// during it (the error carries its stderr tail), it could not be restarted,
// ctx ended, or the stand-in is closed. Calls are serialized, or run up to
// the function's MaxConcurrency at once.
func (l *Lambda) Invoke(ctx context.Context, payload []byte, traceHeader string) (Result, error) {
	select {
	case l.turns <- struct{}{}:
	case <-ctx.Done():
		return Result{}, ctx.Err()
	case <-l.closed:
		return Result{}, ErrClosed
	}
	defer func() { <-l.turns }()

	inv := &invocation{
		id:        NewRequestID(),
		payload:   payload,
		trace:     traceHeader,
		delivered: make(chan struct{}),
		done:      make(chan struct{}),
	}
	res := Result{RequestID: inv.id}
	p, err := l.deliver(ctx, inv)
	if err != nil {
		return res, err
	}
	res.Started = inv.started
	res.ColdStart = p.served.Add(1) == 1

	timer := time.NewTimer(time.Until(inv.deadline))
	defer timer.Stop()
	select {
	case <-inv.done:
	case <-p.exited:
		// The runtime answers before it exits (as after a panic): prefer the answer.
		select {
		case <-inv.done:
		default:
			l.forget(inv.id)
			return res, fmt.Errorf("sandbox: %s exited during invocation %s: %v%s", l.fn.Name, inv.id, p.exitErr, p.stderr.report())
		}
	case <-timer.C:
		concurrent := l.fn.MaxConcurrency > 1
		if !concurrent {
			// Lambda stops a timed-out sandbox; the next Invoke starts a new one.
			p.kill()
		}
		select {
		case <-inv.done: // answered at the last moment
		default:
			if !concurrent {
				l.forget(inv.id)
			}
			// Else the invocation stays in flight, so that the handler's
			// late answer is accepted: aws-lambda-go would end the process,
			// and every invocation in it, on a refused answer.
			res.Err = &InvokeError{
				Type:    "Sandbox.Timedout",
				Message: fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", inv.id, l.fn.Timeout.Seconds()),
			}
			res.Payload, _ = json.Marshal(res.Err)
			res.Duration = l.fn.Timeout
			return res, nil
		}
	case <-ctx.Done():
		// The runtime may still answer; the answer is accepted and dropped.
		return res, ctx.Err()
	}
	res.Payload, res.Err, res.Duration = inv.body, inv.err, inv.answered.Sub(inv.started)
	return res, nil
}

// InitDuration is how long the latest process took from its start to its
// first poll for an invocation: the Init phase Lambda reports.
func (l *Lambda) InitDuration() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.initDur
}

// PID is the current process's ID, or 0 when none is running.
func (l *Lambda) PID() int {
	l.mu.Lock()
	p := l.proc
	l.mu.Unlock()
	if p == nil || p.hasExited() {
		return 0
	}
	select {
	case <-p.launched:
		return p.cmd.Process.Pid
	default:
		return 0
	}
}

// Close stops the process (SIGTERM, then SIGKILL after 500 ms) and the Runtime
// API. An Invoke in progress returns an error.
func (l *Lambda) Close() error {
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return nil
	}
	l.closing = true
	p := l.proc
	l.mu.Unlock()
	close(l.closed)
	if p != nil {
		p.stop(stopGrace)
	}
	return l.srv.Close()
}

// invocation is one event on its way through the Runtime API.
type invocation struct {
	id      string
	payload []byte
	trace   string

	delivered chan struct{} // closed by /next once started and deadline are set
	started   time.Time
	deadline  time.Time

	done     chan struct{} // closed once the runtime has answered
	answered time.Time
	body     []byte
	err      *InvokeError
}

// process is one run of the bootstrap: one sandbox.
type process struct {
	cmd     *exec.Cmd
	stderr  *tail
	next    chan *invocation // taken by this process's /next polls
	started time.Time

	launched chan struct{} // closed once cmd.Start has returned: cmd.Process is set or never will be

	polled    chan struct{} // closed at the first /next poll
	pollOnce  sync.Once
	firstPoll time.Time

	initFailed chan struct{} // closed when the runtime posts /init/error
	initOnce   sync.Once
	initErr    *InvokeError

	exited  chan struct{} // closed once the process has exited and its output is copied
	exitErr error

	served atomic.Int64 // invocations delivered
}

// deliver hands inv to a live process's /next poll, starting a process when
// there is none, and waits until the runtime has it.
func (l *Lambda) deliver(ctx context.Context, inv *invocation) (*process, error) {
	for attempt := 0; ; attempt++ {
		p, err := l.ready(ctx)
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		l.inflight[inv.id] = inv
		l.mu.Unlock()
		select {
		case p.next <- inv:
			<-inv.delivered
			return p, nil
		case <-p.exited:
			// The process exited between invocations; Lambda would start a new one.
			l.forget(inv.id)
			if attempt+1 >= restartLimit {
				return nil, fmt.Errorf("sandbox: %s keeps exiting before taking an invocation: %v%s", l.fn.Name, p.exitErr, p.stderr.report())
			}
		case <-ctx.Done():
			l.forget(inv.id)
			return nil, ctx.Err()
		case <-l.closed:
			l.forget(inv.id)
			return nil, ErrClosed
		}
	}
}

// ready returns the current process if it is still running, or starts one.
// Concurrent callers wait for the one start.
func (l *Lambda) ready(ctx context.Context) (*process, error) {
	l.startMu.Lock()
	defer l.startMu.Unlock()
	l.mu.Lock()
	p := l.proc
	l.mu.Unlock()
	if p != nil && !p.hasExited() {
		return p, nil
	}
	return l.start(ctx)
}

// start runs a new process and waits for the end of its Init phase.
func (l *Lambda) start(ctx context.Context) (*process, error) {
	bootstrap, err := filepath.Abs(l.fn.Bootstrap)
	if err != nil {
		return nil, fmt.Errorf("sandbox: bootstrap %s: %w", l.fn.Bootstrap, err)
	}
	p := &process{
		stderr:     &tail{},
		next:       make(chan *invocation),
		launched:   make(chan struct{}),
		polled:     make(chan struct{}),
		initFailed: make(chan struct{}),
		exited:     make(chan struct{}),
	}
	cmd := exec.Command(bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = l.environ(filepath.Dir(bootstrap))
	cmd.Stdout = l.fn.Stdout
	if cmd.Stdout == nil {
		cmd.Stdout = io.Discard
	}
	cmd.Stderr = io.Writer(p.stderr)
	if l.fn.Stderr != nil {
		cmd.Stderr = io.MultiWriter(p.stderr, l.fn.Stderr)
	}
	// Output pipes held open by a grandchild must not keep Wait from returning.
	cmd.WaitDelay = time.Second
	p.cmd = cmd

	// Register before starting, so the process's first poll finds it.
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return nil, ErrClosed
	}
	l.proc = p
	l.mu.Unlock()

	p.started = time.Now()
	err = cmd.Start()
	close(p.launched)
	if err != nil {
		close(p.exited)
		return nil, fmt.Errorf("sandbox: starting %s: %w", l.fn.Name, err)
	}
	go func() {
		p.exitErr = cmd.Wait()
		close(p.exited)
	}()

	limit := time.NewTimer(initLimit)
	defer limit.Stop()
	select {
	case <-p.polled:
		l.mu.Lock()
		l.initDur = p.firstPoll.Sub(p.started)
		l.mu.Unlock()
		return p, nil
	case <-p.initFailed:
		p.kill()
		return nil, fmt.Errorf("sandbox: %s failed to initialize: %v%s", l.fn.Name, p.initErr, p.stderr.report())
	case <-p.exited:
		return nil, fmt.Errorf("sandbox: %s exited during init: %v%s", l.fn.Name, p.exitErr, p.stderr.report())
	case <-limit.C:
		p.kill()
		return nil, fmt.Errorf("sandbox: %s did not poll for an invocation within %v%s", l.fn.Name, initLimit, p.stderr.report())
	case <-ctx.Done():
		p.kill()
		return nil, fmt.Errorf("sandbox: starting %s: %w", l.fn.Name, ctx.Err())
	case <-l.closed:
		p.kill()
		return nil, ErrClosed
	}
}

// environ is the process's whole environment: the variables Lambda defines
// for a function (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime)
// with test credentials, the caller's Env, and from this process only PATH,
// HOME and TMPDIR, so that a test does not depend on the shell it runs in.
func (l *Lambda) environ(taskRoot string) []string {
	env := map[string]string{"PATH": "/usr/local/bin:/usr/bin:/bin"}
	for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
	}
	logStream := time.Now().UTC().Format("2006/01/02") + "/[$LATEST]" + randomHex(16)
	for k, v := range map[string]string{
		"AWS_LAMBDA_RUNTIME_API":          l.ln.Addr().String(),
		"AWS_LAMBDA_FUNCTION_NAME":        l.fn.Name,
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(l.fn.MemoryMB),
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + l.fn.Name,
		"AWS_LAMBDA_LOG_STREAM_NAME":      logStream,
		"AWS_REGION":                      l.fn.Region,
		"AWS_DEFAULT_REGION":              l.fn.Region,
		"_HANDLER":                        "bootstrap",
		"LAMBDA_TASK_ROOT":                taskRoot,
		"LANG":                            "en_US.UTF-8",
		"TZ":                              ":UTC",
		"AWS_ACCESS_KEY_ID":               "AKIASANDBOXTEST00000",
		"AWS_SECRET_ACCESS_KEY":           "sandbox-test-secret-access-key",
		"AWS_SESSION_TOKEN":               "sandbox-test-session-token",
	} {
		env[k] = v
	}
	if l.fn.MaxConcurrency > 1 {
		env["AWS_LAMBDA_MAX_CONCURRENCY"] = strconv.Itoa(l.fn.MaxConcurrency)
	}
	for k, v := range l.fn.Env {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func (l *Lambda) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+runtimeAPIBase+"/invocation/next", l.next)
	mux.HandleFunc("POST "+runtimeAPIBase+"/invocation/{id}/response", l.response)
	mux.HandleFunc("POST "+runtimeAPIBase+"/invocation/{id}/error", l.invocationError)
	mux.HandleFunc("POST "+runtimeAPIBase+"/init/error", l.initError)
	mux.HandleFunc("POST "+extensionAPIBase+"/register", l.registerExtension)
	mux.HandleFunc("GET "+extensionAPIBase+"/event/next", l.nextExtensionEvent)
	return mux
}

// registerExtension serves the Extensions API's register call for an
// internal extension, which is all a Go runtime registers: aws-lambda-go
// registers one that takes no events so that Lambda sends the process
// SIGTERM before it ends the sandbox.
// https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html
func (l *Lambda) registerExtension(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Lambda-Extension-Name") == "" {
		runtimeError(w, http.StatusBadRequest, "InvalidRequest", "no Lambda-Extension-Name header")
		return
	}
	var body struct {
		Events []string `json:"events"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		runtimeError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	if len(body.Events) > 0 {
		// INVOKE and SHUTDOWN events would need the extension lifecycle,
		// which the stand-in does not run.
		runtimeError(w, http.StatusForbidden, "Extension.UnsupportedEvents", "the stand-in serves extensions that take no events")
		return
	}
	w.Header().Set("Lambda-Extension-Identifier", NewRequestID())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{
		"functionName": l.fn.Name, "functionVersion": "$LATEST", "handler": "bootstrap",
	})
}

// nextExtensionEvent never answers: an extension registered for no events
// gets none, and its poll lasts until the process ends.
func (l *Lambda) nextExtensionEvent(_ http.ResponseWriter, r *http.Request) {
	<-r.Context().Done()
}

// next blocks until an invocation is queued for the polling process, then
// answers with its event and the documented headers. A runtime with a max
// concurrency polls several times at once; each poll takes one invocation.
// The Init phase ends at the first poll, as for Managed Instances: "at least
// one runtime worker has called /runtime/invocation/next"
// (https://docs.aws.amazon.com/lambda/latest/dg/lambda-managed-instances-execution-environment.html).
func (l *Lambda) next(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	p := l.proc
	l.mu.Unlock()
	if p == nil {
		runtimeError(w, http.StatusInternalServerError, "Runtime.NoProcess", "no process is running")
		return
	}
	p.pollOnce.Do(func() {
		p.firstPoll = time.Now()
		close(p.polled)
	})
	select {
	case inv := <-p.next:
		inv.started = time.Now()
		inv.deadline = inv.started.Add(l.fn.Timeout)
		close(inv.delivered)
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", l.arn)
		if inv.trace != "" {
			h.Set("Lambda-Runtime-Trace-Id", inv.trace)
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(inv.payload)
	case <-r.Context().Done():
	case <-p.exited:
		// No answer at all when closing: in Lambda's Shutdown phase the
		// runtime's poll never returns, and the process gets SIGTERM. An
		// empty answer would read as a malformed invocation.
	}
}

// response records a successful answer. aws-lambda-go reports an error met
// while streaming the body in the Lambda-Runtime-Function-Error-Type and
// -Body trailers; that makes the answer a function error.
func (l *Lambda) response(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		runtimeError(w, http.StatusBadRequest, "InvalidRequest", "reading the response: "+err.Error())
		return
	}
	var fnErr *InvokeError
	if typ := r.Trailer.Get("Lambda-Runtime-Function-Error-Type"); typ != "" {
		doc, _ := base64.StdEncoding.DecodeString(r.Trailer.Get("Lambda-Runtime-Function-Error-Body"))
		body = doc
		fnErr = parseFunctionError(doc, typ, "")
	}
	l.answer(w, r.PathValue("id"), body, fnErr)
}

// invocationError records a function error posted by the runtime.
func (l *Lambda) invocationError(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		runtimeError(w, http.StatusBadRequest, "InvalidRequest", "reading the error: "+err.Error())
		return
	}
	fnErr := parseFunctionError(body, r.Header.Get("Lambda-Runtime-Function-Error-Type"), r.Header.Get("Lambda-Runtime-Function-Xray-Error-Cause"))
	l.answer(w, r.PathValue("id"), body, fnErr)
}

// initError records the runtime's report that its initialization failed.
func (l *Lambda) initError(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		runtimeError(w, http.StatusBadRequest, "InvalidRequest", "reading the error: "+err.Error())
		return
	}
	fnErr := parseFunctionError(body, r.Header.Get("Lambda-Runtime-Function-Error-Type"), "")
	l.mu.Lock()
	p := l.proc
	l.mu.Unlock()
	if p != nil {
		p.initOnce.Do(func() {
			p.initErr = fnErr
			close(p.initFailed)
		})
	}
	accepted(w)
}

// answer completes the invocation with request ID id.
func (l *Lambda) answer(w http.ResponseWriter, id string, body []byte, fnErr *InvokeError) {
	l.mu.Lock()
	inv := l.inflight[id]
	delete(l.inflight, id)
	l.mu.Unlock()
	if inv == nil {
		runtimeError(w, http.StatusBadRequest, "InvalidRequestID", "no invocation "+id+" is awaiting an answer")
		return
	}
	inv.answered, inv.body, inv.err = time.Now(), body, fnErr
	close(inv.done)
	accepted(w)
}

func (l *Lambda) forget(id string) {
	l.mu.Lock()
	delete(l.inflight, id)
	l.mu.Unlock()
}

// parseFunctionError reads an error document; a body that is not one still
// yields an error, typed by the Lambda-Runtime-Function-Error-Type header.
func parseFunctionError(body []byte, typ, xrayCause string) *InvokeError {
	var e InvokeError
	if json.Unmarshal(body, &e) != nil {
		e = InvokeError{Message: string(body)}
	}
	if e.Type == "" {
		e.Type = typ
	}
	if e.Type == "" {
		e.Type = "Runtime.Unknown"
	}
	if json.Valid([]byte(xrayCause)) {
		e.XRayCause = json.RawMessage(xrayCause)
	}
	return &e
}

func accepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

// runtimeError answers in the Runtime API's documented error format.
func runtimeError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(InvokeError{Type: typ, Message: msg})
}

func (p *process) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// kill stops the process at once and waits for it.
func (p *process) kill() {
	<-p.launched
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
	}
	<-p.exited
}

// stop asks the process to end with SIGTERM, as Lambda does at shutdown, and
// kills it after grace.
func (p *process) stop(grace time.Duration) {
	<-p.launched
	if p.hasExited() || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		p.kill()
	}
}

// tail keeps the last stderrTailBytes written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - stderrTailBytes; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

// report formats the tail for an error message.
func (t *tail) report() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := bytes.TrimSpace(t.buf)
	if len(s) == 0 {
		return " (stderr empty)"
	}
	return "\nstderr (last " + strconv.Itoa(stderrTailBytes) + " bytes):\n" + string(s)
}

// NewRequestID returns a request ID shaped as AWS's: a random UUID (version 4).
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
