package procs_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xray-tracer/xray-tracer/internal/local/procs"
)

// TestStopEndsTheWholeGroup starts a shell that starts a child of its own
// and ignores SIGTERM, as a wrapper script might: Stop must leave neither.
func TestStopEndsTheWholeGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child")
	// The pid is written to a temporary file and renamed, so that Ready
	// never sees the file created but still empty.
	script := `trap '' TERM; sleep 300 & echo $! > ` + pidFile + `.tmp && mv ` + pidFile + `.tmp ` + pidFile + `; wait`
	p, err := procs.Start(t.Context(), procs.Spec{
		Name: "sh", Path: "/bin/sh", Args: []string{"-c", script},
		Ready: func(context.Context) error {
			// The shell creates the file before echo writes to it: wait for
			// the whole line.
			if b, err := os.ReadFile(pidFile); err != nil || !strings.HasSuffix(string(b), "\n") {
				return procs.ErrNotReady
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	p.Stop()
	t.Logf("stopped in %v", time.Since(start))
	select {
	case <-p.Exited():
	default:
		t.Fatal("Stop returned before the process exited")
	}
	for _, pid := range []int{p.PID(), child} {
		// The child is reaped by init once orphaned; give it a moment.
		deadline := time.Now().Add(2 * time.Second)
		for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process %d still exists after Stop (kill 0: %v)", pid, err)
		}
	}
}

func TestStartFails(t *testing.T) {
	tests := []struct {
		name    string
		spec    procs.Spec
		wantErr string
	}{
		{
			name: "exits before it is ready",
			spec: procs.Spec{
				Name: "early", Path: "/bin/sh", Args: []string{"-c", "echo cannot bind >&2; exit 3"},
				Ready: func(context.Context) error { return procs.ErrNotReady },
			},
			wantErr: "early exited before it was ready: exit status 3\nlast output:\ncannot bind",
		},
		{
			name: "never ready",
			spec: procs.Spec{
				Name: "slow", Path: "/bin/sh", Args: []string{"-c", "echo waiting; sleep 300"},
				Ready:        func(context.Context) error { return procs.ErrNotReady },
				ReadyTimeout: 200 * time.Millisecond,
			},
			wantErr: "slow not ready after 200ms: not ready\nlast output:\nwaiting",
		},
		{
			name:    "no such program",
			spec:    procs.Spec{Name: "ghost", Path: "/nonexistent/ghost"},
			wantErr: "start ghost: ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := procs.Start(t.Context(), tt.spec)
			if err == nil {
				p.Stop()
				t.Fatal("Start succeeded, want an error")
			}
			if !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("Start() error = %q, want it to start with %q", err, tt.wantErr)
			}
		})
	}
}
