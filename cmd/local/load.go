package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/xray-tracer/xray-tracer/internal/functions/sqssubscribe"
	"github.com/xray-tracer/xray-tracer/internal/local/benchmd"
)

// loadSettings are the flags of a load run (make load).
type loadSettings struct {
	requests int    // requests in all
	inFlight int    // requests in flight at once
	poison   int    // poison records put on the queue
	report   string // the Markdown file whose load section is rewritten; "": none
}

// The runner's goroutines and open file descriptors may end a load run a
// few above where they began, and no more: what differs then is work in
// flight at the moment of the sample (each SQS poller's long poll, the
// spans' export ticker, a keep-alive connection being closed), bounded by
// the stack's shape, not by the requests sent. A leak of one per request,
// batch or invocation would be hundreds even in CI's short run.
const (
	goroutineSlack = 10
	fdSlack        = 10
)

// usage is a sample of what the runner holds.
type usage struct {
	goroutines, fds int // fds: -1 where /proc/self/fd is not there
}

func sampleUsage() usage {
	u := usage{goroutines: runtime.NumGoroutine(), fds: -1}
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		u.fds = len(ents)
	}
	return u
}

// runLoad sends the load, waits for its work to settle, checks it and
// reports it. The first inFlight requests warm the stack up (sandboxes,
// connection pools, the spans' exporters) before the first sample.
func (s *stack) runLoad(ctx context.Context) error {
	cfg := s.cfg.load
	loadBefore := benchmd.LoadAverage()
	warm := min(cfg.inFlight, cfg.requests)
	took, err := s.fire(ctx, 0, warm, cfg.inFlight)
	if err != nil {
		return err
	}
	if _, err := s.settle(ctx, completeWait); err != nil {
		return err
	}
	before := s.quiet(ctx, usage{})
	s.mu.Lock()
	callsBefore := s.requestCalls
	s.mu.Unlock()

	begin := time.Now()
	if err := s.sendPoison(ctx, cfg.poison); err != nil {
		return err
	}
	rest, err := s.fire(ctx, warm, cfg.requests-warm, cfg.inFlight)
	took = append(took, rest...)
	answered := time.Since(begin)
	if err != nil {
		return err
	}
	// Backlogs drain at the functions' pace; a run of 10,000 requests can
	// leave minutes of queued invocations behind its last answer.
	o, err := s.settle(ctx, completeWait+answered)
	if err != nil {
		return err
	}
	left, dead, err := s.drainQueues(ctx, cfg.poison)
	if err != nil {
		return err
	}
	after := s.quiet(ctx, before)
	s.mu.Lock()
	calls, busy := s.requestCalls-callsBefore, s.lastRequestCall.Sub(begin)
	s.mu.Unlock()

	hits := 0
	for _, n := range o.hits {
		hits += n
	}
	rows, checks := loadRows(o, hits, left, dead, cfg.poison, before, after)
	rows = append(rows,
		[2]string{"request latency (the API's answer)", fmt.Sprintf("p50 %s, p99 %s", benchmd.Percentile(took, 0.5).Round(100*time.Microsecond), benchmd.Percentile(took, 0.99).Round(100*time.Microsecond))},
		[2]string{"requests per second", fmt.Sprintf("%.0f (%d answered in %s)", float64(cfg.requests-warm)/answered.Seconds(), cfg.requests-warm, answered.Round(100*time.Millisecond))},
		[2]string{"invocations per second", fmt.Sprintf("%.0f (%d invocations in %s, to the last one's end)", float64(calls)/busy.Seconds(), calls, busy.Round(100*time.Millisecond))},
	)
	s.report(o)
	s.say("")
	s.say("load: %d requests, %d in flight, %d poison records", cfg.requests, cfg.inFlight, cfg.poison)
	for _, r := range rows {
		s.say("  %-44s %s", r[0]+":", r[1])
	}
	loadAfter := benchmd.LoadAverage()
	s.say("  %-44s %s before, %s after", "load average (1, 5, 15 min):", loadBefore, loadAfter)
	if cfg.report != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.report), 0o755); err != nil {
			return err
		}
		if err := benchmd.WriteSection(cfg.report, "load", s.loadSection(rows, loadBefore, loadAfter)); err != nil {
			return err
		}
		s.say("wrote the load section of %s", cfg.report)
	}
	return errors.Join(append([]error{o.err()}, checks...)...)
}

// loadRows are the checked figures of a load run, and the checks that
// failed.
func loadRows(o outcome, hits, left, dead, poison int, before, after usage) ([][2]string, []error) {
	var errs []error
	check := func(ok bool, format string, args ...any) string {
		if ok {
			return "ok"
		}
		errs = append(errs, fmt.Errorf(format, args...))
		return "FAILED"
	}
	accepted := len(o.traced)
	complete := accepted - len(o.incomplete)
	lost := len(o.incomplete) + max(accepted-hits, 0) + left
	fds := "not measured (no /proc/self/fd)"
	if before.fds >= 0 {
		fds = fmt.Sprintf("%d → %d (%s: at most %d more)", before.fds, after.fds,
			check(after.fds <= before.fds+fdSlack, "open file descriptors grew from %d to %d", before.fds, after.fds), fdSlack)
	}
	return [][2]string{
		{"requests accepted (200)", fmt.Sprintf("%d of %d", accepted, len(o.served))},
		{"complete traces in Jaeger", fmt.Sprintf("%d of %d (%s)", complete, accepted, check(complete == accepted, "%d incomplete traces", accepted-complete))},
		{"hits in DynamoDB", fmt.Sprintf("%d for %d accepted requests (%s)", hits, accepted, check(hits == accepted, "hits sum to %d, not %d", hits, accepted))},
		{"queue at the end", fmt.Sprintf("%d messages (%s)", left, check(left == 0, "%d messages left on the queue", left))},
		{"dead-letter queue at the end", fmt.Sprintf("%d, the %d poison records (%s)", dead, poison, check(dead == poison, "%d messages in the dead-letter queue, want the %d poison records", dead, poison))},
		{"lost", fmt.Sprintf("%d (%s)", lost, check(lost == 0, "%d lost", lost))},
		{"runner goroutines, before → after", fmt.Sprintf("%d → %d (%s: at most %d more)", before.goroutines, after.goroutines,
			check(after.goroutines <= before.goroutines+goroutineSlack, "goroutines grew from %d to %d", before.goroutines, after.goroutines), goroutineSlack)},
		{"runner open files, before → after", fds},
	}, errs
}

// quiet samples the runner's usage once the stack is idle: with the idle
// keep-alive connections of the runner's own clients closed (a pool, which
// net/http bounds per host, not a leak), and waiting up to 5 s for what is
// ending to end, as long as it stays above the slack over base.
func (s *stack) quiet(ctx context.Context, base usage) usage {
	deadline := time.Now().Add(5 * time.Second)
	for {
		if t, ok := http.DefaultTransport.(*http.Transport); ok {
			t.CloseIdleConnections()
		}
		u := sampleUsage()
		if base.goroutines == 0 || (u.goroutines <= base.goroutines+goroutineSlack && u.fds <= base.fds+fdSlack) || time.Now().After(deadline) {
			return u
		}
		sleepCtx(ctx, 200*time.Millisecond)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// sendPoison puts n poison records on the queue, ten at a time, as no
// request would: each must be received maxReceiveCount times and end in
// the dead-letter queue.
func (s *stack) sendPoison(ctx context.Context, n int) error {
	for sent := 0; sent < n; sent += 10 {
		var entries []sqstypes.SendMessageBatchRequestEntry
		for i := sent; i < min(sent+10, n); i++ {
			entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(sqssubscribe.PoisonBody)})
		}
		out, err := s.sqs.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(s.queues[queueName]), Entries: entries})
		if err == nil && len(out.Failed) > 0 {
			err = fmt.Errorf("%d entries failed", len(out.Failed))
		}
		if err != nil {
			return fmt.Errorf("send poison records: %w", err)
		}
	}
	return nil
}

// drainQueues waits until the queue is empty and the dead-letter queue
// holds poison messages (the poison's last receive comes maxReceiveCount
// visibility timeouts after its first), then says how many messages are
// left on the queue and how many poison records the dead-letter queue
// holds; another body there is an error.
func (s *stack) drainQueues(ctx context.Context, poison int) (left, dead int, err error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(maxReceiveCount+1)*time.Duration(s.cfg.visibility)*time.Second+completeWait)
	defer cancel()
	for {
		if left, err = s.queueDepth(ctx, queueName); err != nil {
			return 0, 0, err
		}
		if dead, err = s.queueDepth(ctx, dlqName); err != nil {
			return 0, 0, err
		}
		if left == 0 && dead >= poison {
			break
		}
		if sleepCtx(ctx, 500*time.Millisecond); ctx.Err() != nil {
			break
		}
	}
	// Received, not peeked: SQS has no peek. Each stays hidden for the
	// visibility timeout asked here, so that none is counted twice.
	dead = 0
	for {
		out, err := s.sqs.ReceiveMessage(context.WithoutCancel(ctx), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(s.queues[dlqName]), MaxNumberOfMessages: 10, VisibilityTimeout: 600,
		})
		if err != nil {
			return 0, 0, fmt.Errorf("read the dead-letter queue: %w", err)
		}
		if len(out.Messages) == 0 {
			return left, dead, nil
		}
		for _, m := range out.Messages {
			if body := aws.ToString(m.Body); body != sqssubscribe.PoisonBody {
				return 0, 0, fmt.Errorf("the dead-letter queue holds %.64q, which is not a poison record", body)
			}
			dead++
		}
	}
}

// queueDepth is how many messages a queue holds: visible, in flight and
// delayed.
func (s *stack) queueDepth(ctx context.Context, name string) (int, error) {
	out, err := s.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(s.queues[name]),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
	})
	if err != nil {
		return 0, fmt.Errorf("the attributes of %s: %w", name, err)
	}
	n := 0
	for _, a := range []sqstypes.QueueAttributeName{
		sqstypes.QueueAttributeNameApproximateNumberOfMessages,
		sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed,
	} {
		v, _ := strconv.Atoi(out.Attributes[string(a)])
		n += v
	}
	return n, nil
}

// loadSection is the load run's section of BENCHMARKS.md.
func (s *stack) loadSection(rows [][2]string, loadBefore, loadAfter string) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	cfg := s.cfg.load
	p("## Load")
	p("")
	p("Written by `make load` (`go run ./cmd/local -load %d -in-flight %d -poison %d`) on %s, on %s, with %s; the machine's load average (1, 5, 15 min) was %s before the run and %s after it, the run's own processes included.",
		cfg.requests, cfg.inFlight, cfg.poison, time.Now().UTC().Format("2006-01-02 15:04 MST"), benchmd.Machine(), runtime.Version(), loadBefore, loadAfter)
	p("")
	p("The whole local stack (`make run`'s: the API stand-in, goaws, dynalite, Jaeger, every function's bootstrap, %d sandboxes each, behind the Runtime API stand-in), on loopback, with the API's throttle raised to API Gateway's default (10,000 requests per second, burst 5,000). %d requests at varied paths, %d in flight at a time; the first %d warm the stack up before the first sample of the runner's goroutines and open files. %d poison records go on the queue beside them. Then the run waits until every accepted request's trace is complete in Jaeger (the API stage, both topics, every function, and sqs-subscribe's trace linked to it: what `-requests -exit` checks), reads the hits from DynamoDB, and waits for the queue to empty and the poison to reach the dead-letter queue after %d receives.",
		s.cfg.concurrency, cfg.requests, cfg.inFlight, min(cfg.inFlight, cfg.requests), cfg.poison, maxReceiveCount)
	p("")
	p("| | |")
	p("|---|---|")
	for _, r := range rows {
		p("| %s | %s |", r[0], r[1])
	}
	p("")
	p("Lost counts accepted requests without a complete trace, hits short of the accepted requests, and messages left on the queue. The runner's goroutines and open files are sampled with the idle keep-alive connections of its clients closed; they may end at most %d and %d above where they began: work in flight at the moment of the sample, bounded by the stack's shape, while a leak per request or batch would be hundreds. The latency is the API's answer to the client, which is the publish to the fan-out topic; the functions run after it, asynchronously, as Lambda's SNS subscriptions do. Invocations per second count every invocation the requests caused (Lambda's retries of the http function's deliberate failures among them) from the first request after the warm-up to the end of the last one; when the API answers faster than the functions' sandboxes run, the invocations wait their turn as Lambda's asynchronous invocations do, so this rate, not the requests', is the stack's throughput.",
		goroutineSlack, fdSlack)
	return b.String()
}
