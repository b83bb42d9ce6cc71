package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

const (
	accountID = "123456789012"
	// restartLimit bounds how often one Invoke replaces a process that exits
	// before taking the invocation, so a crashing bootstrap fails the call.
	restartLimit = 3
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

func (l *Lambda) forget(id string) {
	l.mu.Lock()
	delete(l.inflight, id)
	l.mu.Unlock()
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
