package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
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

// TestParseFunctionError checks the error format against the one
// aws-lambda-go posts, and the fallbacks for runtimes that post less.
func TestParseFunctionError(t *testing.T) {
	lambdaGo, err := json.Marshal(messages.InvokeResponse_Error{
		Message:    "boom",
		Type:       "string",
		StackTrace: []*messages.InvokeResponse_Error_StackFrame{{Path: "main.go", Line: 3, Label: "main"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name              string
		body, typ, xcause string
		want              InvokeError
	}{
		{
			name: "aws-lambda-go's document",
			body: string(lambdaGo), xcause: `{"exceptions":[]}`,
			want: InvokeError{Message: "boom", Type: "string",
				StackTrace: json.RawMessage(`[{"path":"main.go","line":3,"label":"main"}]`),
				XRayCause:  json.RawMessage(`{"exceptions":[]}`)},
		},
		{
			name: "type only in the header",
			body: `{"errorMessage":"m"}`, typ: "Runtime.Custom",
			want: InvokeError{Message: "m", Type: "Runtime.Custom"},
		},
		{
			name: "body not JSON",
			body: "plain failure", typ: "Runtime.Custom", xcause: "not json",
			want: InvokeError{Message: "plain failure", Type: "Runtime.Custom"},
		},
		{
			name: "nothing at all",
			want: InvokeError{Type: "Runtime.Unknown"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseFunctionError([]byte(tt.body), tt.typ, tt.xcause)
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("got %+v, want %+v", *got, tt.want)
			}
		})
	}
}

// TestExtensionsAPI: aws-lambda-go registers an internal extension that
// takes no events, to get SIGTERM before the sandbox ends; the stand-in
// accepts that and refuses what it cannot serve.
func TestExtensionsAPI(t *testing.T) {
	srv := httptest.NewServer((&Lambda{fn: Function{Name: "f"}}).handler())
	t.Cleanup(srv.Close)
	tests := []struct {
		name, extension, body string
		want                  int
	}{
		{"no events", "GoLangEnableSIGTERM", `{"events":[]}`, http.StatusOK},
		{"lifecycle events", "ext", `{"events":["INVOKE","SHUTDOWN"]}`, http.StatusForbidden},
		{"no name", "", `{"events":[]}`, http.StatusBadRequest},
		{"not JSON", "ext", `{`, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+extensionAPIBase+"/register", strings.NewReader(tt.body))
			if tt.extension != "" {
				req.Header.Set("Lambda-Extension-Name", tt.extension)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("register: %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want == http.StatusOK && resp.Header.Get("Lambda-Extension-Identifier") == "" {
				t.Error("no Lambda-Extension-Identifier")
			}
		})
	}
}
