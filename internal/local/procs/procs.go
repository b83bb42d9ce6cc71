// Package procs starts and stops the local runner's child processes (the
// emulators and Jaeger) so that none outlives the runner: each runs in a
// process group of its own, which Stop signals whole (a child's own children,
// such as npm's node, go with it), and on Linux the kernel kills the child if
// the runner dies without stopping it.
package procs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Spec says how to run one process.
type Spec struct {
	Name string // for messages
	Path string
	Args []string
	Dir  string
	Env  []string // the whole environment; nil inherits the runner's
	// Output receives the process's stdout and stderr; nil discards them.
	// The last lines are kept either way, for error messages.
	Output io.Writer
	// Ready reports nil once the process serves; Start polls it.
	Ready func(ctx context.Context) error
	// ReadyTimeout bounds the wait for Ready; default 30 s.
	ReadyTimeout time.Duration
}

// Proc is a running process.
type Proc struct {
	spec   Spec
	cmd    *exec.Cmd
	out    *tail
	exited chan struct{}
	err    error // set before exited closes

	stopOnce sync.Once
}

// Start runs the process and waits until spec.Ready reports nil. It fails,
// with the process's last output, when the process exits first or is not
// ready in time; the process is stopped then.
func Start(ctx context.Context, spec Spec) (*Proc, error) {
	if spec.ReadyTimeout == 0 {
		spec.ReadyTimeout = 30 * time.Second
	}
	p := &Proc{spec: spec, out: &tail{}, exited: make(chan struct{})}
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Dir = spec.Dir
	cmd.Env = spec.Env
	var w io.Writer = p.out
	if spec.Output != nil {
		w = io.MultiWriter(p.out, spec.Output)
	}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = sysProcAttr()
	// A grandchild holding the output pipes must not keep Wait from returning.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	p.cmd = cmd
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	if spec.Ready == nil {
		return p, nil
	}
	if err := p.waitReady(ctx); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

func (p *Proc) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.spec.ReadyTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := p.spec.Ready(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before it was ready: %v%s", p.spec.Name, p.err, p.out.report())
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %v: %w%s", p.spec.Name, p.spec.ReadyTimeout, err, p.out.report())
		case <-tick.C:
		}
	}
}

// PID is the process's ID.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Exited is closed when the process has exited.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Err is how the process ended, once Exited is closed, with its last output.
func (p *Proc) Err() error {
	select {
	case <-p.exited:
	default:
		return nil
	}
	if p.err == nil {
		return fmt.Errorf("%s exited%s", p.spec.Name, p.out.report())
	}
	return fmt.Errorf("%s: %w%s", p.spec.Name, p.err, p.out.report())
}

// stopGrace is how long Stop waits after SIGTERM before it kills.
const stopGrace = 3 * time.Second

// Stop sends SIGTERM to the process's group, then SIGKILL if it has not
// exited within 3 s, and waits until it has.
func (p *Proc) Stop() {
	p.stopOnce.Do(func() {
		pgid := -p.cmd.Process.Pid
		_ = syscall.Kill(pgid, syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(stopGrace):
		}
		// The group may hold children that outlive the leader: kill them too.
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-p.exited
	})
}

// ErrNotReady is what a Ready function returns while it waits.
var ErrNotReady = errors.New("not ready")

// tail keeps the last lines a process wrote.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailBytes = 2 << 10

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if len(t.buf) > tailBytes {
		t.buf = t.buf[len(t.buf)-tailBytes:]
	}
	return len(b), nil
}

func (t *tail) report() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(t.buf))
	if s == "" {
		return " (no output)"
	}
	return "\nlast output:\n" + s
}
