package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"
)

// paths are what -requests asks for, in turn.
var paths = []string{"/", "/hello", "/orders/42", "/a/b/c", "/hello"}

// fire sends n GET requests at the API, one after the other.
func (s *stack) fire(ctx context.Context, n int) error {
	s.say("sending %d requests", n)
	client := &http.Client{Timeout: 30 * time.Second}
	for i := range n {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.cfg.api+paths[i%len(paths)], nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("request %d: %w", i+1, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	return nil
}

// completeWait bounds how long the summary waits for traces and hits: the
// http function's retries take 3 s, an SQS record that failed comes back
// after the visibility timeout.
const completeWait = 30 * time.Second

// summary waits until every answered request's trace is complete and every
// hit is counted (or completeWait passes), and prints what it found.
func (s *stack) summary(ctx context.Context) error {
	s.mu.Lock()
	served := slices.Clone(s.served)
	s.mu.Unlock()
	want := map[string]int{}
	var traced []request
	for _, r := range served {
		if r.Status == http.StatusOK {
			want[r.Path]++
			traced = append(traced, r)
		}
	}
	s.say("waiting for the traces and hits of %d requests", len(traced))
	ctx, cancel := context.WithTimeout(ctx, completeWait)
	defer cancel()
	var (
		incomplete []string
		hits       map[string]int
		err        error
	)
	for {
		incomplete = s.incomplete(ctx, traced)
		hits, err = s.hits(ctx)
		if err == nil && len(incomplete) == 0 && hitsMatch(hits, want) {
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
		return err
	}

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
		len(served), len(traced), calls, failed)
	st := s.mapping.Stats()
	s.say("  SQS event source: %d polls (%d failed), %d batches of %d records, %d deleted, %d left for a retry",
		st.Polls, st.FailedPolls, st.Batches, st.Records, st.Deleted, st.Kept)
	where := "in Jaeger"
	if s.jaeger == nil {
		where = "(every function invoked; the traces themselves went to " + os.Getenv("OTEL_TRACES_EXPORTER") + ")"
	}
	s.say("  complete traces %s: %d of %d", where, len(traced)-len(incomplete), len(traced))
	for _, m := range incomplete {
		s.say("  incomplete: %s", m)
	}
	var missing []string
	keys := make([]string, 0, len(want))
	for p := range want {
		keys = append(keys, p)
	}
	slices.Sort(keys)
	s.say("  hits per path (DynamoDB %s):", tableName)
	for _, p := range keys {
		mark := ""
		if hits[p] != want[p] {
			mark = fmt.Sprintf("  MISSING: want %d", want[p])
			missing = append(missing, p)
		}
		s.say("    %-20s %d%s", p, hits[p], mark)
	}
	if len(traced) > 0 && s.jaeger != nil {
		last := traced[len(traced)-1].TraceID
		s.say("")
		s.say("the last request's trace, as Jaeger has it:")
		if err := s.waterfall(ctx, last); err != nil {
			s.say("  %v", err)
		}
	}
	switch {
	case len(incomplete) > 0 && len(missing) > 0:
		return fmt.Errorf("%d incomplete traces and missing hits for %s", len(incomplete), strings.Join(missing, ", "))
	case len(incomplete) > 0:
		return fmt.Errorf("%d incomplete traces", len(incomplete))
	case len(missing) > 0:
		return fmt.Errorf("missing hits for %s", strings.Join(missing, ", "))
	}
	return nil
}
