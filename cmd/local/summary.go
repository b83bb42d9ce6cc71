package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// paths are what -requests and -load ask for, in turn.
var paths = []string{"/", "/hello", "/orders/42", "/a/b/c", "/hello"}

// fire sends n GET requests at the API, inFlight at a time, the i-th of
// them at paths[(first+i) % len(paths)], and returns how long each took to
// be answered (the API's log keeps each status). It stops sending at the
// first request that gets no answer, and returns that error.
func (s *stack) fire(ctx context.Context, first, n, inFlight int) ([]time.Duration, error) {
	s.say("sending %d requests, %d in flight", n, inFlight)
	// One connection per request in flight, kept between requests.
	transport := &http.Transport{MaxIdleConnsPerHost: inFlight}
	defer transport.CloseIdleConnections()
	client := &http.Client{Timeout: 30 * time.Second, Transport: transport}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		mu   sync.Mutex
		took []time.Duration
		wg   sync.WaitGroup
	)
	next := make(chan int)
	for range inFlight {
		wg.Go(func() {
			for i := range next {
				d, err := s.get(ctx, client, paths[(first+i)%len(paths)])
				if err != nil {
					cancel(fmt.Errorf("request %d: %w", first+i+1, err))
					continue
				}
				mu.Lock()
				took = append(took, d)
				mu.Unlock()
			}
		})
	}
send:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break send
		}
	}
	close(next)
	wg.Wait()
	return took, context.Cause(ctx)
}

// get sends one request and reads its answer.
func (s *stack) get(ctx context.Context, client *http.Client, path string) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.cfg.api+path, nil)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return time.Since(start), nil
}

// completeWait bounds how long the summary waits for traces and hits: the
// http function's retries take 3 s, an SQS record that failed comes back
// after the visibility timeout.
const completeWait = 30 * time.Second

// outcome is what the checks found once the requests' work had settled.
type outcome struct {
	served     []request      // every request the API answered
	traced     []request      // those it accepted (200), each in a trace
	want, hits map[string]int // hits per path: accepted, and counted in DynamoDB
	incomplete []string       // what each incomplete trace lacks
	missing    []string       // the paths whose hits are not the accepted requests
}

// settle waits until every accepted request's trace is complete and every
// hit is counted, or wait passes, and says what it found. Each round asks
// Jaeger again only about the traces not complete yet.
func (s *stack) settle(ctx context.Context, wait time.Duration) (outcome, error) {
	s.mu.Lock()
	o := outcome{served: slices.Clone(s.served), want: map[string]int{}}
	s.mu.Unlock()
	for _, r := range o.served {
		if r.Status == http.StatusOK {
			o.want[r.Path]++
			o.traced = append(o.traced, r)
		}
	}
	s.say("waiting for the traces and hits of %d requests", len(o.traced))
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	pending := o.traced
	var err error
	for {
		o.incomplete, pending = s.incomplete(ctx, pending)
		o.hits, err = s.hits(ctx)
		if err == nil && len(pending) == 0 && hitsMatch(o.hits, o.want) {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
			continue
		}
		break
	}
	if err != nil {
		return o, err
	}
	for p, n := range o.want {
		if o.hits[p] != n {
			o.missing = append(o.missing, p)
		}
	}
	slices.Sort(o.missing)
	return o, nil
}

// err is what -exit fails with: incomplete traces, missing hits.
func (o outcome) err() error {
	var errs []error
	if len(o.incomplete) > 0 {
		errs = append(errs, fmt.Errorf("%d incomplete traces", len(o.incomplete)))
	}
	if len(o.missing) > 0 {
		errs = append(errs, fmt.Errorf("missing hits for %s", strings.Join(o.missing, ", ")))
	}
	return errors.Join(errs...)
}

// summary waits for the requests' work to settle (or completeWait), prints
// what it found and the last request's trace, and says what is missing.
func (s *stack) summary(ctx context.Context) error {
	o, err := s.settle(ctx, completeWait)
	if err != nil {
		return err
	}
	s.report(o)
	if len(o.traced) > 0 && s.jaeger != nil {
		last := o.traced[len(o.traced)-1].TraceID
		s.say("")
		s.say("the last request's trace, as Jaeger has it:")
		if err := s.waterfall(ctx, last); err != nil {
			s.say("  %v", err)
		}
	}
	return o.err()
}

// report prints the outcome: invocations, the SQS event source, complete
// traces, hits per path.
func (s *stack) report(o outcome) {
	s.mu.Lock()
	var failed, calls int
	for _, invs := range s.invocations {
		for _, inv := range invs {
			calls++
			if inv.Failed() {
				failed++
			}
		}
	}
	s.mu.Unlock()
	s.say("")
	s.say("summary: %d requests (%d answered 200), %d invocations, %d failed (the http function fails on purpose at FAILURE_RATE; Lambda retries it)",
		len(o.served), len(o.traced), calls, failed)
	st := s.mapping.Stats()
	s.say("  SQS event source: %d polls (%d failed), %d batches of %d records, %d deleted, %d left for a retry",
		st.Polls, st.FailedPolls, st.Batches, st.Records, st.Deleted, st.Kept)
	where := "in Jaeger"
	if s.jaeger == nil {
		where = "(every function invoked; the traces themselves went to " + os.Getenv("OTEL_TRACES_EXPORTER") + ")"
	}
	s.say("  complete traces %s: %d of %d", where, len(o.traced)-len(o.incomplete), len(o.traced))
	const shown = 20 // of a load run's, say
	for i, m := range o.incomplete {
		if i == shown {
			s.say("  … and %d more incomplete", len(o.incomplete)-shown)
			break
		}
		s.say("  incomplete: %s", m)
	}
	keys := make([]string, 0, len(o.want))
	for p := range o.want {
		keys = append(keys, p)
	}
	slices.Sort(keys)
	s.say("  hits per path (DynamoDB %s):", tableName)
	for _, p := range keys {
		mark := ""
		if o.hits[p] != o.want[p] {
			mark = fmt.Sprintf("  MISSING: want %d", o.want[p])
		}
		s.say("    %-20s %d%s", p, o.hits[p], mark)
	}
}
