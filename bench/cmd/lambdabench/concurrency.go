package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/xray-tracer/xray-tracer/internal/local/benchmd"
	"github.com/xray-tracer/xray-tracer/internal/local/sandbox"
)

// inFlight is AWS_LAMBDA_MAX_CONCURRENCY for the concurrency measurement:
// aws-lambda-go then polls that many times at once, and the stand-in keeps
// that many invocations in flight in the one process, as Lambda Managed
// Instances do.
const inFlight = 8

// concurrentVariants are those measured with several invocations in flight:
// the control and otelsetup's two export paths.
var concurrentVariants = []string{"a", "b", "d"}

// concurrencyResult is one variant's share of the concurrency measurement.
type concurrencyResult struct {
	durations []time.Duration // each invocation's, as in the warm table
	wall      time.Duration   // the rounds' wall-clock time, added up
}

// throughput is invocations per second of wall-clock time.
func (c concurrencyResult) throughput() float64 {
	if c.wall <= 0 {
		return 0
	}
	return float64(len(c.durations)) / c.wall.Seconds()
}

// measureConcurrency runs n invocations of 5 spans per variant through one
// process with inFlight of them in flight at all times, in rounds
// interleaved across the variants, and keeps each invocation's duration and
// each round's wall-clock time.
func measureConcurrency(ctx context.Context, variants []variant, bins map[string]string, n int) (map[string]concurrencyResult, error) {
	var vs []variant
	for _, v := range variants {
		for _, id := range concurrentVariants {
			if v.id == id {
				vs = append(vs, v)
			}
		}
	}
	sbs := map[string]*sandbox.Lambda{}
	defer closeAll(sbs)
	for _, v := range vs {
		fn := function(v, bins)
		fn.MaxConcurrency = inFlight
		sb, err := sandbox.Start(ctx, fn)
		if err != nil {
			return nil, fmt.Errorf("(%s) %s: %w", v.id, v.title, err)
		}
		sbs[v.id] = sb
	}
	for _, v := range vs {
		if _, _, err := invokeConcurrently(ctx, sbs[v.id], 10*inFlight); err != nil {
			return nil, fmt.Errorf("(%s) warm-up: %w", v.id, err)
		}
	}
	out := map[string]concurrencyResult{}
	const batch = 400
	for done := 0; done < n; done += batch {
		for _, v := range vs {
			ds, wall, err := invokeConcurrently(ctx, sbs[v.id], min(batch, n-done))
			if err != nil {
				return nil, fmt.Errorf("(%s): %w", v.id, err)
			}
			r := out[v.id]
			r.durations = append(r.durations, ds...)
			r.wall += wall
			out[v.id] = r
		}
	}
	return out, nil
}

// invokeConcurrently runs n invocations, inFlight at a time, and returns
// their durations and the wall-clock time from the first start to the last
// answer.
func invokeConcurrently(ctx context.Context, sb *sandbox.Lambda, n int) ([]time.Duration, time.Duration, error) {
	payload := []byte(`{"spans":5}`)
	jobs := make(chan struct{}, n)
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	var (
		mu    sync.Mutex
		ds    = make([]time.Duration, 0, n)
		first error
		wg    sync.WaitGroup
	)
	start := time.Now()
	for range inFlight {
		wg.Go(func() {
			for range jobs {
				d, err := invoke(ctx, sb, payload)
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				ds = append(ds, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return ds, time.Since(start), first
}

func (r *report) writeConcurrency(p func(string, ...any)) {
	p("## Concurrent invocations")
	p("")
	p("One process with `AWS_LAMBDA_MAX_CONCURRENCY=%d` (Lambda Managed Instances): aws-lambda-go polls %d times at once and the stand-in keeps %d invocations of 5 spans in flight, %d invocations per variant in rounds interleaved across the variants. Throughput is invocations per second of the rounds' wall-clock time; p50 and p99 are each invocation's own duration, as in the warm table.", inFlight, inFlight, inFlight, len(r.Concurrency[control].durations))
	p("")
	p("| variant | invocations/s | ÷ (a) | p50 | p99 | p99 − (a) |")
	p("|---|---|---|---|---|---|")
	a := r.Concurrency[control]
	a99 := benchmd.Percentile(a.durations, .99)
	for _, v := range r.Variants {
		c, ok := r.Concurrency[v.id]
		if !ok {
			continue
		}
		p99 := benchmd.Percentile(c.durations, .99)
		p("| (%s) %s | %.0f | %s | %s | %s | %s |", v.id, v.title, c.throughput(), ratio(c.throughput(), a.throughput()), ms(benchmd.Percentile(c.durations, .5)), ms(p99), ms(p99-a99))
	}
	p("")
	p("%s", concurrencyText)
	p("")
}
