// Command echo is a tiny Lambda function for the Runtime API stand-in's
// tests. The event says what to do:
//
//	{"do":"echo"}                 answer with what the function saw
//	{"do":"error","message":"m"}  return an error
//	{"do":"panic","message":"m"}  panic
//	{"do":"exit"}                 exit the process mid-invocation
//	{"do":"sleep","ms":N}         sleep N ms, then echo
//	{"do":"barrier","n":N}        wait until N invocations are in the handler
//	                              at once (AWS_LAMBDA_MAX_CONCURRENCY > 1), then
//	                              echo; fail at the deadline if they never are
//	{"do":"hold","n":N}           the same, but past the deadline, as a handler
//	                              that overruns it
//	{"env":["NAME",...]}          also echo these environment variables
//
// ECHO_INIT=exit makes it exit during init; ECHO_INIT=error makes it post to
// /runtime/init/error first, as a custom runtime does.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type event struct {
	Do      string   `json:"do"`
	Message string   `json:"message"`
	MS      int      `json:"ms"`
	N       int      `json:"n"`
	Env     []string `json:"env"`
}

type echo struct {
	Event       json.RawMessage   `json:"event"`
	RequestID   string            `json:"requestId"`
	FunctionARN string            `json:"functionArn"`
	TraceID     string            `json:"traceId"`
	EnvTraceID  string            `json:"envTraceId"`
	DeadlineMS  int64             `json:"deadlineMs"`
	Env         map[string]string `json:"env,omitempty"`
}

// barrier holds invocations until n of them are in the handler together:
// proof that the runtime serves them concurrently, with no clock involved.
type barrier struct {
	mu      sync.Mutex
	arrived int
	all     chan struct{} // closed once n have arrived
}

func (b *barrier) wait(ctx context.Context, n int) error {
	b.mu.Lock()
	b.arrived++
	if b.arrived == n {
		close(b.all)
	}
	b.mu.Unlock()
	select {
	case <-b.all:
		return nil
	case <-ctx.Done():
		b.mu.Lock()
		defer b.mu.Unlock()
		return fmt.Errorf("barrier: %d of %d invocations arrived before the deadline", b.arrived, n)
	}
}

type function struct{ barrier *barrier }

func (f *function) handle(ctx context.Context, raw json.RawMessage) (echo, error) {
	var ev event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return echo{}, err
	}
	switch ev.Do {
	case "error":
		return echo{}, errors.New(ev.Message)
	case "panic":
		panic(ev.Message)
	case "exit":
		fmt.Fprintln(os.Stderr, "echo: exiting mid-invocation")
		os.Exit(7)
	case "sleep":
		time.Sleep(time.Duration(ev.MS) * time.Millisecond)
	case "barrier":
		if err := f.barrier.wait(ctx, ev.N); err != nil {
			return echo{}, err
		}
	case "hold":
		_ = f.barrier.wait(context.WithoutCancel(ctx), ev.N)
	}
	out := echo{Event: raw, EnvTraceID: os.Getenv("_X_AMZN_TRACE_ID")}
	out.TraceID, _ = ctx.Value("x-amzn-trace-id").(string)
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		out.RequestID, out.FunctionARN = lc.AwsRequestID, lc.InvokedFunctionArn
	}
	if d, ok := ctx.Deadline(); ok {
		out.DeadlineMS = d.UnixMilli()
	}
	for _, k := range ev.Env {
		if v, ok := os.LookupEnv(k); ok {
			if out.Env == nil {
				out.Env = map[string]string{}
			}
			out.Env[k] = v
		}
	}
	return out, nil
}

func main() {
	switch os.Getenv("ECHO_INIT") {
	case "exit":
		fmt.Fprintln(os.Stderr, "echo: cannot initialize")
		os.Exit(3)
	case "error":
		url := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/init/error"
		body := `{"errorMessage":"missing TABLE_NAME","errorType":"Config.Missing"}`
		resp, err := http.Post(url, "application/json", strings.NewReader(body))
		if err == nil {
			resp.Body.Close()
		}
		// Wait to be stopped, as Lambda stops a runtime that reported an init error.
		time.Sleep(time.Minute)
		os.Exit(4)
	}
	f := &function{barrier: &barrier{all: make(chan struct{})}}
	lambda.Start(f.handle)
}
