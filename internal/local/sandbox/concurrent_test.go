package sandbox

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLambdaServesConcurrentPolls: with a max concurrency, as Lambda Managed
// Instances run a function, several invocations are in flight in one process
// at once, each delivered to its own /next poll with its own request ID,
// deadline and trace header. The echo function's barrier holds every
// invocation until all of them are in the handler together, so invocations
// served one at a time would time out there.
func TestLambdaServesConcurrentPolls(t *testing.T) {
	const n = 4
	const timeout = 5 * time.Second
	l := startEcho(t, Function{MaxConcurrency: n, Timeout: timeout})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	results := make([]Result, n)
	errs := make([]error, n)
	headers := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		headers[i] = fmt.Sprintf("Root=1-66f0a1b2-0123456789abcdef0123456%d;Parent=53995c3f42cd8ad%d;Sampled=1", i, i)
		wg.Go(func() {
			event := fmt.Sprintf(`{"do":"barrier","n":%d,"env":["AWS_LAMBDA_MAX_CONCURRENCY","_X_AMZN_TRACE_ID"]}`, n)
			results[i], errs[i] = l.Invoke(ctx, []byte(event), headers[i])
		})
	}
	wg.Wait()

	seen := map[string]bool{}
	cold := 0
	for i, res := range results {
		if errs[i] != nil {
			t.Fatalf("invocation %d: %v", i, errs[i])
		}
		got := decodeEcho(t, res)
		if got.RequestID != res.RequestID || seen[res.RequestID] {
			t.Errorf("invocation %d: handler saw request ID %q, Result has %q (seen before: %v)", i, got.RequestID, res.RequestID, seen[res.RequestID])
		}
		seen[res.RequestID] = true
		if got.TraceID != headers[i] {
			t.Errorf("invocation %d: handler saw trace header %q, want its own %q", i, got.TraceID, headers[i])
		}
		if want := res.Started.Add(timeout).UnixMilli(); got.DeadlineMS != want {
			t.Errorf("invocation %d: deadline %d, want %d (its own delivery + timeout)", i, got.DeadlineMS, want)
		}
		if got.Env["AWS_LAMBDA_MAX_CONCURRENCY"] != fmt.Sprint(n) {
			t.Errorf("invocation %d: AWS_LAMBDA_MAX_CONCURRENCY = %q, want %d", i, got.Env["AWS_LAMBDA_MAX_CONCURRENCY"], n)
		}
		// aws-lambda-go sets the process-wide variable only when it serves
		// one invocation at a time (lambda/invoke_loop.go).
		if v, ok := got.Env["_X_AMZN_TRACE_ID"]; ok {
			t.Errorf("invocation %d: _X_AMZN_TRACE_ID = %q, want it unset with concurrency", i, v)
		}
		if res.ColdStart {
			cold++
		}
	}
	if cold != 1 {
		t.Errorf("%d invocations marked cold start, want exactly 1", cold)
	}
	if pid := l.PID(); pid == 0 {
		t.Error("the process is gone after concurrent invocations")
	}
}

// TestLambdaConcurrentTimeoutLeavesOthersRunning: under Lambda Managed
// Instances a timed-out invocation fails alone; the process and the other
// invocations in flight go on, and the overrunning handler's late answer is
// accepted (aws-lambda-go would end the process on a refused one).
func TestLambdaConcurrentTimeoutLeavesOthersRunning(t *testing.T) {
	l := startEcho(t, Function{MaxConcurrency: 2, Timeout: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pid := l.PID()

	// The first waits at a barrier of 2 past its deadline.
	res, err := l.Invoke(ctx, []byte(`{"do":"hold","n":2}`), "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Err == nil || res.Err.Type != "Sandbox.Timedout" {
		t.Fatalf("Err = %+v, want Sandbox.Timedout", res.Err)
	}
	l.mu.Lock()
	late := l.inflight[res.RequestID]
	l.mu.Unlock()
	if late == nil {
		t.Fatal("the timed-out invocation is no longer awaiting its late answer")
	}

	// The second, in the same process, releases the first.
	res, err = l.Invoke(ctx, []byte(`{"do":"barrier","n":2}`), "")
	if err != nil {
		t.Fatal(err)
	}
	decodeEcho(t, res)
	select {
	case <-late.done:
	case <-ctx.Done():
		t.Fatal("the late answer never came")
	}

	// The late answer was accepted: the process still serves.
	res, err = l.Invoke(ctx, []byte(`{"do":"echo"}`), "")
	if err != nil {
		t.Fatal(err)
	}
	decodeEcho(t, res)
	if res.ColdStart || l.PID() != pid {
		t.Errorf("ColdStart = %v, PID %d after %d: want the same process throughout", res.ColdStart, l.PID(), pid)
	}
}

// TestStartRejectsMaxConcurrencyInEnv: the variable set through Env would
// tell the runtime to poll concurrently while the stand-in serves one
// invocation at a time.
func TestStartRejectsMaxConcurrencyInEnv(t *testing.T) {
	_, err := Start(context.Background(), Function{
		Name: "echo", Bootstrap: "bootstrap",
		Env: map[string]string{"AWS_LAMBDA_MAX_CONCURRENCY": "4"},
	})
	if err == nil || !strings.Contains(err.Error(), "MaxConcurrency") {
		t.Fatalf("Start() error = %v, want one naming MaxConcurrency", err)
	}
}
