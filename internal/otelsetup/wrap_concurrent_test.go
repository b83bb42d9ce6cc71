package otelsetup_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest"
)

// TestColdStartIsMarkedOnceAcrossConcurrentInvocations: with
// AWS_LAMBDA_MAX_CONCURRENCY > 1 several invoke loops share one wrapped
// handler; only the first invocation of the process is a cold start.
func TestColdStartIsMarkedOnceAcrossConcurrentInvocations(t *testing.T) {
	tr, exp := otelsetuptest.New(t)
	h := lambda.NewHandler(otelsetup.Wrap(tr, okHandler))
	event := readEvent(t, "sns-fanout.json")
	const n = 64
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Go(func() {
			start.Wait() // all at once
			if _, err := h.Invoke(otelsetuptest.InvocationContext(fmt.Sprint("req-", i), ctxHeader), event); err != nil {
				t.Error(err)
			}
		})
	}
	start.Done()
	done.Wait()

	spans := exp.GetSpans()
	if len(spans) != n {
		t.Fatalf("got %d spans, want %d", len(spans), n)
	}
	cold := 0
	for _, s := range spans {
		if v, _ := otelsetuptest.Attr(s, "faas.coldstart"); v.AsBool() {
			cold++
		}
	}
	if cold != 1 {
		t.Errorf("%d invocations marked as cold starts, want 1", cold)
	}
}

// TestConcurrentInvocationsGetTheirOwnAnswers: invocations that run at the
// same time through one wrapped handler each get the answer of their own
// event (run with -race: answers must not share buffers).
func TestConcurrentInvocationsGetTheirOwnAnswers(t *testing.T) {
	tr, _ := otelsetuptest.New(t)
	h := lambda.NewHandler(otelsetup.Wrap(tr, func(_ context.Context, ev events.SNSEvent) (string, error) {
		return ev.Records[0].SNS.Message, nil
	}))
	var sample events.SNSEvent
	if err := json.Unmarshal(readEvent(t, "sns-fanout.json"), &sample); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 64 {
		ev := sample
		ev.Records = slices.Clone(sample.Records)
		ev.Records[0].SNS.Message = fmt.Sprintf("/orders/%d", i)
		payload := otelsetuptest.Event(t, ev)
		wg.Go(func() {
			for range 20 {
				answer, err := h.Invoke(otelsetuptest.InvocationContext("r", ctxHeader), payload)
				if want := fmt.Sprintf(`"/orders/%d"`, i); err != nil || string(answer) != want {
					t.Errorf("answer = %s, %v; want %s", answer, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
}
