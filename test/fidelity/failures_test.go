package fidelity

import (
	"strings"
	"testing"
	"time"

	"github.com/xray-tracer/xray-tracer/test/harness"
)

// TestFailures checks how X-Ray classifies failures: a failing invocation is a fault
// with the Go stack as its cause; a call answered 4xx is an error, 429 a
// throttle, 5xx a fault.
func TestFailures(t *testing.T) {
	tests := []struct {
		name         string
		cfg          harness.PatternConfig
		wantAttempts int
		wantRemote   struct{ err, fault, throttle bool }
		wantStatus   int
	}{
		{
			name:         "fails on purpose",
			cfg:          harness.PatternConfig{HTTPFailureRate: 1},
			wantAttempts: 1,
			wantStatus:   200,
		},
		{
			name:         "target answers 404",
			cfg:          harness.PatternConfig{HTTPTargetStatus: 404},
			wantAttempts: 1,
			wantRemote:   struct{ err, fault, throttle bool }{err: true},
			wantStatus:   404,
		},
		{
			name:         "target answers 429",
			cfg:          harness.PatternConfig{HTTPTargetStatus: 429},
			wantAttempts: 3,
			wantRemote:   struct{ err, fault, throttle bool }{err: true, throttle: true},
			wantStatus:   429,
		},
		{
			name:         "target answers 503",
			cfg:          harness.PatternConfig{HTTPTargetStatus: 503},
			wantAttempts: 3,
			wantRemote:   struct{ err, fault, throttle bool }{fault: true},
			wantStatus:   503,
		},
	}
	for _, p := range paths() {
		t.Run(p.String(), func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					sc := runScenario(t, p, tt.cfg, "/fail")
					var inv harness.Invocation
					for _, i := range sc.reqs[0].Invocations {
						if i.Function == "http" {
							inv = i
						}
					}
					if inv.Result.Err == nil {
						t.Fatalf("the http invocation succeeded, want it to fail")
					}
					root := findInvocation(sc.docs, inv)
					if root == nil {
						t.Fatal("no invocation subsegment for http")
					}
					// The invocation and its business step are faults with the
					// Go stack of the error as their cause.
					step := one(t, below(sc.docs, root.ID), business["http"].name, "http")
					for _, d := range []harness.Segment{*root, step} {
						if !d.Fault {
							t.Errorf("%q: fault = false, want true", d.Name)
						}
						checkGoStack(t, d)
					}
					var remote []harness.Segment
					for _, d := range below(sc.docs, step.ID) {
						if d.Namespace == "remote" {
							remote = append(remote, d)
						}
					}
					if len(remote) != tt.wantAttempts {
						t.Fatalf("%d remote subsegments, want one per attempt: %d", len(remote), tt.wantAttempts)
					}
					for _, r := range remote {
						got := struct{ err, fault, throttle bool }{r.Error, r.Fault, r.Throttle}
						if got != tt.wantRemote {
							t.Errorf("remote call: error/fault/throttle = %+v, want %+v", got, tt.wantRemote)
						}
						if r.HTTP == nil || r.HTTP.Response == nil || r.HTTP.Response.Status != tt.wantStatus {
							t.Errorf("remote call: http %s, want status %d", r.Raw, tt.wantStatus)
						}
					}
				})
			}
		})
	}
}

// checkGoStack asserts that d's cause is an exception with a Go stack.
func checkGoStack(t *testing.T, d harness.Segment) {
	t.Helper()
	if d.Cause == nil || len(d.Cause.Exceptions) == 0 {
		t.Errorf("%q: no cause", d.Name)
		return
	}
	ex := d.Cause.Exceptions[0]
	if ex.Message == "" || len(ex.Stack) == 0 {
		t.Errorf("%q: exception %q with %d frames, want a message and a stack", d.Name, ex.Message, len(ex.Stack))
		return
	}
	for _, f := range ex.Stack {
		if strings.HasSuffix(f.Path, ".go") && f.Line > 0 && f.Label != "" {
			return
		}
	}
	t.Errorf("%q: stack has no Go frame: %+v", d.Name, ex.Stack[0])
}

// TestTimedOutInvocation: a handler that overruns its deadline still leaves
// a trace. The http function's Lambda timeout is 2 s and the external API
// answers after 20 s. Before the deadline the invocation span is ended as
// timed out and exported with what ended before it, so X-Ray has the
// invocation as a fault whose cause says it timed out, instead of a hole.
func TestTimedOutInvocation(t *testing.T) {
	cfg := harness.PatternConfig{
		HTTPTargetDelay: 20 * time.Second,
		Timeouts:        map[string]time.Duration{"http": 2 * time.Second},
	}
	for _, p := range paths() {
		t.Run(p.String(), func(t *testing.T) {
			sc := runScenario(t, p, cfg, "/slow")
			var inv harness.Invocation
			for _, i := range sc.reqs[0].Invocations {
				if i.Function == "http" {
					inv = i
				}
			}
			// The handler gives up with its context at the deadline, so
			// Lambda sees its answer or its timeout, whichever comes first.
			if inv.Result.Err == nil {
				t.Fatalf("the http invocation succeeded, want it to time out")
			}
			root := findInvocation(sc.docs, inv)
			if root == nil {
				t.Fatal("no invocation subsegment for the timed-out http invocation")
			}
			t.Logf("the timed-out invocation's document: %s", root.Raw)
			if !root.Fault {
				t.Errorf("fault = false, want true")
			}
			if root.Cause == nil || len(root.Cause.Exceptions) == 0 {
				t.Fatalf("no cause")
			}
			ex := root.Cause.Exceptions[0]
			if text := strings.ToLower(ex.Type + " " + ex.Message); !strings.Contains(text, "timed out") && !strings.Contains(text, "timeout") {
				t.Errorf("cause %q: %q, want one that says the invocation timed out", ex.Type, ex.Message)
			}
			if end := root.EndTime; end == 0 || end < root.StartTime {
				t.Errorf("end_time %v, start_time %v", end, root.StartTime)
			}
		})
	}
}
