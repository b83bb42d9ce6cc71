package main

import (
	"context"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/internal/functions/pattern"
	"github.com/xray-tracer/xray-tracer/internal/local/localaws"
	"github.com/xray-tracer/xray-tracer/internal/local/waterfall"
)

// The services every request's trace must hold: the API stage, both
// topics, and every function but the SQS consumer (whose trace links to
// the request's).
var requestServices = []string{apiName, fanoutTopic, "dynamo", "http", "sqs", "sns-publish", secondTopic, "sns-subscribe"}

func hitsMatch(got, want map[string]int) bool {
	for p, n := range want {
		if got[p] != n {
			return false
		}
	}
	return true
}

// checkers bounds the traces checked at once: enough to keep Jaeger's
// query service busy on two cores, few enough not to crowd out the stack.
const checkers = 8

// incomplete checks each request's trace in Jaeger and says what is
// missing from those that are not whole; it returns those requests too, so
// that a caller waiting for the traces asks again about them alone.
//
// Without Jaeger (another exporter), what the runner saw stands in: every
// function invoked in the request's trace, and sqs-subscribe invoked with a
// link to it.
func (s *stack) incomplete(ctx context.Context, reqs []request) ([]string, []request) {
	check := s.checkTrace
	if s.jaeger == nil {
		check = s.checkInvocations
	}
	msgs := make([]string, len(reqs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, checkers)
	for i, r := range reqs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if msg := check(ctx, r.TraceID); msg != "" {
				msgs[i] = waterfall.XRayID(r.TraceID) + " " + r.Path + ": " + msg
			}
		})
	}
	wg.Wait()
	var out []string
	var still []request
	for i, m := range msgs {
		if m != "" {
			out = append(out, m)
			still = append(still, reqs[i])
		}
	}
	return out, still
}

// checkInvocations says which functions the runner has not invoked yet for
// the request whose trace is id.
func (s *stack) checkInvocations(_ context.Context, id trace.TraceID) string {
	_, consumed := s.consumer(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	invoked := map[string]bool{"sqs-subscribe": consumed}
	for _, inv := range s.invocations[id] {
		invoked[inv.Function] = true
	}
	var lack []string
	for _, fn := range pattern.Functions {
		if !invoked[fn] {
			lack = append(lack, fn)
		}
	}
	if len(lack) == 0 {
		return ""
	}
	return "not invoked yet: " + strings.Join(lack, ", ")
}

// checkTrace says what the trace of one request lacks: a service, or the
// SQS consumer's trace linked to it.
func (s *stack) checkTrace(ctx context.Context, id trace.TraceID) string {
	t, err := s.jaeger.Trace(ctx, id)
	if err != nil {
		return err.Error()
	}
	have := t.Services()
	var lack []string
	for _, svc := range requestServices {
		if !have[svc] {
			lack = append(lack, svc)
		}
	}
	consumer, ok := s.consumer(id)
	if !ok {
		lack = append(lack, "sqs-subscribe (no consumer trace linked to it yet)")
	} else if ct, err := s.jaeger.Trace(ctx, consumer); err != nil || !ct.Services()["sqs-subscribe"] {
		lack = append(lack, "sqs-subscribe's trace "+waterfall.XRayID(consumer))
	}
	if len(lack) == 0 {
		return ""
	}
	return "no " + strings.Join(lack, ", ")
}

// observe keeps each invocation by trace, and which trace consumed the SQS
// messages sent in which: an sqs-subscribe invocation's trace for each trace
// its records link to (Lambda starts a new trace for an SQS batch). A
// record received again keeps the first consumer: its trace is the one
// that holds the record's span whichever receive it was.
func (s *stack) observe(inv localaws.Invocation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.invocations[inv.TraceID] = append(s.invocations[inv.TraceID], inv)
	if inv.Function != "sqs-subscribe" || len(inv.Links) > 0 {
		s.requestCalls++
		s.lastRequestCall = time.Now()
	}
	if inv.Function == "sqs-subscribe" {
		for _, producer := range inv.Links {
			if _, ok := s.consumers[producer]; !ok {
				s.consumers[producer] = inv.TraceID
			}
		}
	}
	if inv.Failure != nil {
		s.log.Warn("invocation could not run", "function", inv.Function, "error", inv.Failure)
	}
}

// consumer is the trace of the sqs-subscribe invocation whose records link
// to the request's trace id (observe indexes them).
func (s *stack) consumer(id trace.TraceID) (trace.TraceID, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.consumers[id]
	return c, ok
}
