package main

import (
	"context"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/internal/functions/pattern"
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

// incomplete checks each request's trace in Jaeger and says what is
// missing from those that are not whole.
//
// Without Jaeger (another exporter), what the runner saw stands in: every
// function invoked in the request's trace, and sqs-subscribe invoked with a
// link to it.
func (s *stack) incomplete(ctx context.Context, reqs []request) []string {
	check := s.checkTrace
	if s.jaeger == nil {
		check = s.checkInvocations
	}
	var out []string
	for _, r := range reqs {
		if msg := check(ctx, r.TraceID); msg != "" {
			out = append(out, waterfall.XRayID(r.TraceID)+" "+r.Path+": "+msg)
		}
	}
	return out
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

// consumer finds the trace of the sqs-subscribe invocation whose records
// link to the request's trace id (Lambda starts a new trace for an SQS
// batch), and remembers it.
func (s *stack) consumer(id trace.TraceID) (trace.TraceID, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.consumers[id]; ok {
		return c, true
	}
	for tid, invs := range s.invocations {
		for _, inv := range invs {
			if inv.Function == "sqs-subscribe" && slices.Contains(inv.Links, id) {
				s.consumers[id] = tid
				return tid, true
			}
		}
	}
	return trace.TraceID{}, false
}
