package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if echoBuild.dir != "" {
		os.RemoveAll(echoBuild.dir)
	}
	os.Exit(code)
}

// echoBuild is testdata/echo built once per test binary, as `sam build` builds
// a function for provided.al2023.
var echoBuild struct {
	once      sync.Once
	dir, path string
	err       error
}

func echoBootstrap(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs a Lambda bootstrap")
	}
	echoBuild.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			echoBuild.err = err
			return
		}
		if echoBuild.dir, err = os.MkdirTemp("", "sandbox-echo-"); err != nil {
			echoBuild.err = err
			return
		}
		echoBuild.path = filepath.Join(echoBuild.dir, "bootstrap")
		cmd := exec.Command(goTool, "build", "-tags", "lambda.norpc", "-o", echoBuild.path, "./testdata/echo")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			echoBuild.err = errors.New(err.Error() + ": " + string(out))
		}
	})
	if echoBuild.err != nil {
		t.Fatalf("building testdata/echo: %v", echoBuild.err)
	}
	return echoBuild.path
}

// startEcho starts the echo function and closes it when the test ends.
func startEcho(t *testing.T, fn Function) *Lambda {
	t.Helper()
	fn.Bootstrap = echoBootstrap(t)
	if fn.Name == "" {
		fn.Name = "echo"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := Start(ctx, fn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// echoed is what testdata/echo answers.
type echoed struct {
	Event       json.RawMessage   `json:"event"`
	RequestID   string            `json:"requestId"`
	FunctionARN string            `json:"functionArn"`
	TraceID     string            `json:"traceId"`
	EnvTraceID  string            `json:"envTraceId"`
	DeadlineMS  int64             `json:"deadlineMs"`
	Env         map[string]string `json:"env"`
}

func decodeEcho(t *testing.T, res Result) echoed {
	t.Helper()
	if res.Err != nil {
		t.Fatalf("function failed: %v", res.Err)
	}
	var e echoed
	if err := json.Unmarshal(res.Payload, &e); err != nil {
		t.Fatalf("answer %q: %v", res.Payload, err)
	}
	return e
}

// TestLambdaInvoke runs its cases in order against one sandbox, as Lambda
// reuses one: some cases crash it and the next proves it is replaced.
func TestLambdaInvoke(t *testing.T) {
	const timeout = time.Second
	l := startEcho(t, Function{Name: "echo", Region: "eu-west-1", Timeout: timeout})
	if l.InitDuration() <= 0 {
		t.Errorf("InitDuration() = %v, want > 0", l.InitDuration())
	}
	const trace = "Root=1-66f0a1b2-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"

	tests := []struct {
		name      string
		event     string
		trace     string
		wantCold  bool
		wantError string // an error returned by Invoke must contain it
		check     func(t *testing.T, res Result)
	}{
		{
			name:     "returns the function's answer",
			event:    `{"do":"echo","n":1}`,
			wantCold: true,
			check: func(t *testing.T, res Result) {
				if got := decodeEcho(t, res); string(got.Event) != `{"do":"echo","n":1}` {
					t.Errorf("event = %s, want the payload", got.Event)
				}
				if res.Duration <= 0 || res.Started.IsZero() {
					t.Errorf("Duration = %v, Started = %v; want both set", res.Duration, res.Started)
				}
			},
		},
		{
			name:  "hands the trace header, request ID, ARN and deadline to the handler",
			event: `{"do":"echo"}`,
			trace: trace,
			check: func(t *testing.T, res Result) {
				got := decodeEcho(t, res)
				want := echoed{
					Event:       json.RawMessage(`{"do":"echo"}`),
					RequestID:   res.RequestID,
					FunctionARN: "arn:aws:lambda:eu-west-1:123456789012:function:echo",
					TraceID:     trace,
					EnvTraceID:  trace,
					DeadlineMS:  res.Started.Add(timeout).UnixMilli(),
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("handler saw %+v, want %+v", got, want)
				}
				if len(res.RequestID) != 36 {
					t.Errorf("RequestID = %q, want a UUID", res.RequestID)
				}
			},
		},
		{
			name:  "sends no trace header when given none",
			event: `{"do":"echo"}`,
			check: func(t *testing.T, res Result) {
				if got := decodeEcho(t, res); got.TraceID != "" {
					t.Errorf("handler saw trace header %q, want none", got.TraceID)
				}
			},
		},
		{
			name:  "a handler error comes back as InvokeError",
			event: `{"do":"error","message":"no such table"}`,
			check: func(t *testing.T, res Result) {
				if res.Err == nil || res.Err.Type != "errorString" || res.Err.Message != "no such table" {
					t.Fatalf("Err = %+v, want errorString: no such table", res.Err)
				}
				if !json.Valid(res.Err.XRayCause) || !bytes.Contains(res.Err.XRayCause, []byte("no such table")) {
					t.Errorf("XRayCause = %s, want aws-lambda-go's cause document", res.Err.XRayCause)
				}
				if !bytes.Contains(res.Payload, []byte(`"errorMessage"`)) {
					t.Errorf("Payload = %s, want the error document", res.Payload)
				}
			},
		},
		{
			name:  "the sandbox survives a handler error",
			event: `{"do":"echo"}`,
			check: func(t *testing.T, res Result) { decodeEcho(t, res) },
		},
		{
			name:  "a panic comes back as InvokeError",
			event: `{"do":"panic","message":"boom"}`,
			check: func(t *testing.T, res Result) {
				if res.Err == nil || res.Err.Type != "string" || res.Err.Message != "boom" {
					t.Fatalf("Err = %+v, want string: boom", res.Err)
				}
				if len(res.Err.StackTrace) < 3 {
					t.Errorf("StackTrace = %s, want the panic's stack", res.Err.StackTrace)
				}
			},
		},
		{
			name:     "after a panic a new process serves (cold start)",
			event:    `{"do":"echo"}`,
			wantCold: true,
			check:    func(t *testing.T, res Result) { decodeEcho(t, res) },
		},
		{
			name:      "a process dying mid-invocation is an error with its stderr",
			event:     `{"do":"exit"}`,
			wantError: "exiting mid-invocation",
		},
		{
			name:     "after a crash a new process serves",
			event:    `{"do":"echo"}`,
			wantCold: true,
			check:    func(t *testing.T, res Result) { decodeEcho(t, res) },
		},
		{
			name:  "a timeout comes back as Sandbox.Timedout",
			event: `{"do":"sleep","ms":30000}`,
			check: func(t *testing.T, res Result) {
				if res.Err == nil || res.Err.Type != "Sandbox.Timedout" || !strings.Contains(res.Err.Message, "1.00 seconds") {
					t.Fatalf("Err = %+v, want Sandbox.Timedout after 1.00 seconds", res.Err)
				}
			},
		},
		{
			name:     "after a timeout a new process serves",
			event:    `{"do":"echo"}`,
			wantCold: true,
			check:    func(t *testing.T, res Result) { decodeEcho(t, res) },
		},
		{
			name:  "a second invocation reuses the process",
			event: `{"do":"echo"}`,
			check: func(t *testing.T, res Result) { decodeEcho(t, res) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := l.Invoke(ctx, []byte(tt.event), tt.trace)
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("Invoke() error = %v, want one containing %q", err, tt.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.ColdStart != tt.wantCold {
				t.Errorf("ColdStart = %v, want %v", res.ColdStart, tt.wantCold)
			}
			tt.check(t, res)
		})
	}
}

func TestLambdaInvocationsRunOneAtATime(t *testing.T) {
	l := startEcho(t, Function{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	results := make([]Result, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			results[i], errs[i] = l.Invoke(ctx, []byte(`{"do":"sleep","ms":100}`), "")
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("invocation %d: %v", i, err)
		}
	}
	for i, a := range results {
		for j, b := range results {
			if i != j && a.Started.Before(b.Started) && a.Started.Add(a.Duration).After(b.Started) {
				t.Errorf("invocation %d started before invocation %d had answered", j, i)
			}
		}
	}
}
