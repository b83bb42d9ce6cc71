package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/xray-tracer/xray-tracer/internal/local/benchmd"
)

// report is everything one run measured.
type report struct {
	Variants  []variant
	Short     bool
	Plan      plan
	Machine   string
	Date      string
	GoVersion string

	Size        map[string]int64                      // by variant: stripped linux/arm64 bytes
	Init        map[string][]time.Duration            // by variant
	Warm        map[string][]time.Duration            // by variant
	Growth      map[string]map[string][]time.Duration // by size, then variant
	RSS         map[string][2]int64                   // by variant: kB after the first and second count
	Concurrency map[string]concurrencyResult          // by variant: (a), (b) and (d)
	Faults      []faultResult                         // by fault, in faultcollector.Faults' order, then xrayudp
	Hotpaths    string                                // benchstat's table
	Received    map[string]int
}

// The variants every ratio is taken against.
const (
	control = "a"
	stock   = "c"
	ours    = "b"
)

func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Millisecond || d <= -10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	case d >= time.Millisecond || d <= -time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%d µs", d.Microseconds())
}

func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func yes(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**not met**"
}

func (r *report) write(w io.Writer) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }

	p("# Benchmarks")
	p("")
	p("Written by `make bench` (`go -C bench run ./cmd/lambdabench`) on %s, on %s, with %s.", r.Date, r.Machine, r.GoVersion)
	if r.Short {
		p("")
		p("**Short mode** (`-short`): a few iterations of each measurement, to check that the harness runs. The figures below mean little; run `make bench` for real ones.")
	}
	p("")
	p("Every variant is the same handler (`bench/internal/work`: a loop of steps, each in a span of its own when traced, and a DynamoDB client built at init, as in a real function), built as a real `bootstrap` and run behind the Lambda Runtime API stand-in (`internal/local/sandbox`), exporting to a receiver on loopback that discards what it gets. Invocations carry a sampled X-Ray trace header, as Lambda passes with active tracing. The variants are interleaved round by round, so machine noise falls on all alike.")
	p("")
	p("| | variant |")
	p("|---|---|")
	for _, v := range r.Variants {
		p("| (%s) | %s |", v.id, v.title)
	}
	p("")
	r.writeBudgets(p)
	r.writeInit(p)
	r.writeWarm(p)
	r.writeSize(p)
	r.writeRSS(p)
	r.writeGrowth(p)
	r.writeXRaySDK(p)
	r.writeSavings(p)
	r.writeConcurrency(p)
	r.writeFaults(p)
	p("## Hot paths")
	p("")
	p("`go test -bench` of `bench/hotpath`, each path this project's way (`impl=otelsetup`) and the stock way (`impl=stock`), and a whole invocation over UDP against the X-Ray SDK for Go (`impl=xraysdk`), %d runs each, compared with benchstat (`-col /impl`):", r.Plan.hotpathRuns)
	p("")
	p("```")
	b.WriteString(strings.TrimRight(r.Hotpaths, "\n") + "\n")
	p("```")
	p("")
	p("%s", hotpathText)
	p("")
	keys := make([]string, 0, len(r.Received))
	for k := range r.Received {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var got []string
	for _, k := range keys {
		got = append(got, fmt.Sprintf("%d %s", r.Received[k], k))
	}
	p("The receivers got %s in all.", strings.Join(got, ", "))
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *report) writeBudgets(p func(string, ...any)) {
	initA, initB, initC := benchmd.Percentile(r.Init[control], .5), benchmd.Percentile(r.Init[ours], .5), benchmd.Percentile(r.Init[stock], .5)
	warmA50, warmB50, warmC50 := benchmd.Percentile(r.Warm[control], .5), benchmd.Percentile(r.Warm[ours], .5), benchmd.Percentile(r.Warm[stock], .5)
	warmA99, warmB99, warmC99 := benchmd.Percentile(r.Warm[control], .99), benchmd.Percentile(r.Warm[ours], .99), benchmd.Percentile(r.Warm[stock], .99)
	sizeA, sizeB, sizeC := float64(r.Size[control]), float64(r.Size[ours]), float64(r.Size[stock])
	rssB := r.RSS[ours]
	thousand := benchmd.Percentile(r.Growth["1000 spans"][ours], .5)

	p("## Budgets")
	p("")
	p("For (b), the pattern's functions as deployed with the ADOT layer:")
	p("")
	p("| budget | measured | |")
	p("|---|---|---|")
	p("| init ≤ untraced + 3 ms | p50 %s − %s = %s | %s |", ms(initB), ms(initA), ms(initB-initA), yes(initB-initA <= 3*time.Millisecond))
	p("| init ≤ half of stock | p50 %s ÷ %s = %s | %s |", ms(initB), ms(initC), ratio(float64(initB), float64(initC)), yes(initB*2 <= initC))
	p("| warm overhead p50 ≤ 200 µs | %s − %s = %s | %s |", ms(warmB50), ms(warmA50), ms(warmB50-warmA50), yes(warmB50-warmA50 <= 200*time.Microsecond))
	p("| warm overhead p99 ≤ 1 ms | %s − %s = %s | %s |", ms(warmB99), ms(warmA99), ms(warmB99-warmA99), yes(warmB99-warmA99 <= time.Millisecond))
	p("| warm below stock | p50 %s vs %s, p99 %s vs %s | %s |", ms(warmB50), ms(warmC50), ms(warmB99), ms(warmC99), yes(warmB50 < warmC50 && warmB99 < warmC99))
	p("| binary ≤ 1.5× untraced | %s | %s |", ratio(sizeB, sizeA), yes(sizeB <= 1.5*sizeA))
	p("| binary smaller than stock | %.1f MB vs %.1f MB | %s |", sizeB/1e6, sizeC/1e6, yes(sizeB < sizeC))
	p("| RSS flat from %d to %d invocations | %d kB → %d kB | %s |", r.Plan.rssFirst, r.Plan.rssSecond, rssB[0], rssB[1], yes(rssB[1]-rssB[0] <= 1024))
	p("| 1000 spans flushed in < 20 ms | p50 %s per invocation of 1000 spans | %s |", ms(thousand), yes(thousand < 20*time.Millisecond))
	p("")
	p("RSS counts as flat when it grows by at most 1 MB (the Go runtime's heap grows in steps).")
	p("")
}

func (r *report) writeInit(p func(string, ...any)) {
	p("## Init")
	p("")
	p("Process start to the first poll for an invocation (Lambda's Init phase), over %d cold starts per variant.", len(r.Init[control]))
	p("")
	p("| variant | p50 | p90 | p50 − (a) | p50 ÷ (a) | p50 ÷ (c) |")
	p("|---|---|---|---|---|---|")
	a, c := benchmd.Percentile(r.Init[control], .5), benchmd.Percentile(r.Init[stock], .5)
	for _, v := range r.Variants {
		p50, p90 := benchmd.Percentile(r.Init[v.id], .5), benchmd.Percentile(r.Init[v.id], .9)
		p("| (%s) %s | %s | %s | %s | %s | %s |", v.id, v.title, ms(p50), ms(p90), ms(p50-a), ratio(float64(p50), float64(a)), ratio(float64(p50), float64(c)))
	}
	p("")
	p("%s", initText)
	p("")
}

func (r *report) writeWarm(p func(string, ...any)) {
	p("## Warm invocations")
	p("")
	p("`/next`'s answer to the runtime's response, the flush of the invocation's spans included, 5 spans per invocation, over %d invocations per variant.", len(r.Warm[control]))
	p("")
	p("| variant | p50 | p99 | p50 − (a) | p99 − (a) | p50 ÷ (c) | p99 ÷ (c) |")
	p("|---|---|---|---|---|---|---|")
	a50, a99 := benchmd.Percentile(r.Warm[control], .5), benchmd.Percentile(r.Warm[control], .99)
	c50, c99 := benchmd.Percentile(r.Warm[stock], .5), benchmd.Percentile(r.Warm[stock], .99)
	for _, v := range r.Variants {
		p50, p99 := benchmd.Percentile(r.Warm[v.id], .5), benchmd.Percentile(r.Warm[v.id], .99)
		p("| (%s) %s | %s | %s | %s | %s | %s | %s |", v.id, v.title, ms(p50), ms(p99), ms(p50-a50), ms(p99-a99), ratio(float64(p50), float64(c50)), ratio(float64(p99), float64(c99)))
	}
	p("")
	p("%s", warmText)
	p("")
}

func (r *report) writeSize(p func(string, ...any)) {
	p("## Binary size")
	p("")
	p("The stripped `bootstrap` as Lambda runs it (linux/arm64, `CGO_ENABLED=0`, `-tags lambda.norpc`, `-trimpath -ldflags='-s -w'`). (b), (d) and (f) are one binary: only the environment differs; (e) is the same code built with `-tags otlpgrpc`.")
	p("")
	p("| variant | bytes | ÷ (a) | ÷ (c) |")
	p("|---|---|---|---|")
	a, c := float64(r.Size[control]), float64(r.Size[stock])
	seen := map[string]bool{}
	for _, v := range r.Variants {
		if seen[v.function] {
			continue
		}
		seen[v.function] = true
		s := float64(r.Size[v.id])
		p("| %s (%s) | %d | %s | %s |", v.function, v.id, r.Size[v.id], ratio(s, a), ratio(s, c))
	}
	p("")
	p("%s", sizeText)
	p("")
}

func (r *report) writeRSS(p func(string, ...any)) {
	p("## Memory")
	p("")
	p("Resident memory (VmRSS) of each variant's process after %d and after %d invocations of 5 spans.", r.Plan.rssFirst, r.Plan.rssSecond)
	p("")
	p("| variant | after %d | after %d | change | ÷ (a) | ÷ (c) |", r.Plan.rssFirst, r.Plan.rssSecond)
	p("|---|---|---|---|---|---|")
	a, c := float64(r.RSS[control][1]), float64(r.RSS[stock][1])
	for _, v := range r.Variants {
		m := r.RSS[v.id]
		p("| (%s) %s | %d kB | %d kB | %+d kB | %s | %s |", v.id, v.title, m[0], m[1], m[1]-m[0], ratio(float64(m[1]), a), ratio(float64(m[1]), c))
	}
	p("")
	p("%s", rssText)
	p("")
}

func (r *report) writeGrowth(p func(string, ...any)) {
	p("## Growth")
	p("")
	p("p50 of a warm invocation, flush included, by spans per invocation and by SQS batch (one span per record, plus the invocation's), over %d invocations each; below each, the traced variants' cost per span over the untraced control.", r.Plan.growth)
	p("")
	head := "| variant |"
	line := "|---|"
	for _, g := range growthSizes {
		head += " " + g.name + " |"
		line += "---|"
	}
	p("%s", head)
	p("%s", line)
	for _, v := range r.Variants {
		row := fmt.Sprintf("| (%s) %s |", v.id, v.title)
		for _, g := range growthSizes {
			d := benchmd.Percentile(r.Growth[g.name][v.id], .5)
			cell := ms(d)
			if v.id != control {
				per := (d - benchmd.Percentile(r.Growth[g.name][control], .5)) / time.Duration(g.spans)
				cell += " (" + ms(per) + "/span)"
			}
			row += " " + cell + " |"
		}
		p("%s", row)
	}
	p("")
	p("The same p50s as ratios to (a) and to (c):")
	p("")
	p("%s", head)
	p("%s", line)
	for _, v := range r.Variants {
		row := fmt.Sprintf("| (%s) %s |", v.id, v.title)
		for _, g := range growthSizes {
			d := float64(benchmd.Percentile(r.Growth[g.name][v.id], .5))
			row += fmt.Sprintf(" %s, %s |", ratio(d, float64(benchmd.Percentile(r.Growth[g.name][control], .5))), ratio(d, float64(benchmd.Percentile(r.Growth[g.name][stock], .5))))
		}
		p("%s", row)
	}
	p("")
	p("%s", growthText)
	p("")
}
