package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestLambdaEnvironment(t *testing.T) {
	t.Setenv("HARNESS_PARENT_ONLY", "leaked")
	l := startEcho(t, Function{
		Name:     "env-fn",
		Region:   "ap-southeast-2",
		MemoryMB: 256,
		Env:      map[string]string{"TABLE_NAME": "Hits", "TZ": "Europe/Paris"},
	})
	keys := []string{
		"AWS_LAMBDA_RUNTIME_API", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_REGION", "AWS_DEFAULT_REGION", "_HANDLER",
		"LAMBDA_TASK_ROOT", "TZ", "TABLE_NAME", "HARNESS_PARENT_ONLY", "AWS_ACCESS_KEY_ID",
		"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_LAMBDA_LOG_STREAM_NAME",
	}
	event, _ := json.Marshal(map[string]any{"do": "echo", "env": keys})
	res, err := l.Invoke(context.Background(), event, "")
	if err != nil {
		t.Fatal(err)
	}
	env := decodeEcho(t, res).Env

	tests := []struct {
		key  string
		want string // "" means the variable must be absent; "*" any non-empty value
	}{
		{"AWS_LAMBDA_RUNTIME_API", l.ln.Addr().String()},
		{"AWS_LAMBDA_FUNCTION_NAME", "env-fn"},
		{"AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"},
		{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"},
		{"AWS_REGION", "ap-southeast-2"},
		{"AWS_DEFAULT_REGION", "ap-southeast-2"},
		{"_HANDLER", "bootstrap"},
		{"LAMBDA_TASK_ROOT", filepath.Dir(echoBuild.path)},
		{"TZ", "Europe/Paris"}, // Env overrides the defaults
		{"TABLE_NAME", "Hits"},
		{"HARNESS_PARENT_ONLY", ""},
		{"AWS_ACCESS_KEY_ID", "*"},
		{"AWS_SECRET_ACCESS_KEY", "*"},
		{"AWS_SESSION_TOKEN", "*"},
		{"AWS_LAMBDA_LOG_STREAM_NAME", "*"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got, ok := env[tt.key]
			switch {
			case tt.want == "" && ok:
				t.Errorf("%s = %q, want it absent", tt.key, got)
			case tt.want == "*" && got == "":
				t.Errorf("%s is unset, want a value", tt.key)
			case tt.want != "" && tt.want != "*" && got != tt.want:
				t.Errorf("%s = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}

func TestStartFails(t *testing.T) {
	bootstrap := echoBootstrap(t)
	tests := []struct {
		name      string
		fn        Function
		wantError []string
	}{
		{
			name:      "the process exits during init",
			fn:        Function{Name: "echo", Bootstrap: bootstrap, Env: map[string]string{"ECHO_INIT": "exit"}},
			wantError: []string{"echo exited during init", "exit status 3", "cannot initialize"},
		},
		{
			name:      "the runtime reports an init error",
			fn:        Function{Name: "echo", Bootstrap: bootstrap, Env: map[string]string{"ECHO_INIT": "error"}},
			wantError: []string{"echo failed to initialize", "Config.Missing: missing TABLE_NAME"},
		},
		{
			name:      "the bootstrap does not exist",
			fn:        Function{Name: "echo", Bootstrap: filepath.Join(t.TempDir(), "bootstrap")},
			wantError: []string{"starting echo"},
		},
		{
			name:      "the function has no name",
			fn:        Function{Bootstrap: bootstrap},
			wantError: []string{"needs a Name"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			l, err := Start(ctx, tt.fn)
			if err == nil {
				l.Close()
				t.Fatal("Start() succeeded, want an error")
			}
			for _, want := range tt.wantError {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestLambdaClose(t *testing.T) {
	l := startEcho(t, Function{})
	pid := l.PID()
	if pid <= 0 {
		t.Fatalf("PID() = %d, want the running process", pid)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process %d after Close: kill(0) = %v, want ESRCH", pid, err)
	}
	if got := l.PID(); got != 0 {
		t.Errorf("PID() after Close = %d, want 0", got)
	}
	if _, err := l.Invoke(context.Background(), []byte(`{}`), ""); !errors.Is(err, ErrClosed) {
		t.Errorf("Invoke() after Close = %v, want ErrClosed", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
}
