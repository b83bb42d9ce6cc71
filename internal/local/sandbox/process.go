package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
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

const (
	// stderrTailBytes is how much of the process's stderr an error carries.
	stderrTailBytes = 4 << 10
	// initLimit is Lambda's limit on the Init phase of an on-demand function.
	initLimit = 10 * time.Second
	// stopGrace is how long Close waits after SIGTERM before it kills: the
	// Shutdown phase's limit for a function with an internal extension,
	// which is what a Go runtime registers to get SIGTERM (otelsetup.Setup,
	// aws-lambda-go's lambda.WithEnableSIGTERM)
	// (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html#runtimes-lifecycle-shutdown).
	stopGrace = 500 * time.Millisecond
)

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

	extMu      sync.Mutex
	extensions []string // the names of the extensions it registered

	served atomic.Int64 // invocations delivered
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

// stop ends the process as Lambda's Shutdown phase does: with SIGTERM, then
// SIGKILL after grace, when it registered an extension; otherwise with
// SIGKILL at once, Lambda's default ("Any use of the extension register API
// enables SIGTERM": aws-lambda-go, lambda/sigterm.go; the Shutdown phase,
// https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html#runtimes-lifecycle-shutdown).
func (p *process) stop(grace time.Duration) {
	<-p.launched
	if p.hasExited() || p.cmd.Process == nil {
		return
	}
	p.extMu.Lock()
	registered := len(p.extensions) > 0
	p.extMu.Unlock()
	if !registered {
		p.kill()
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

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
