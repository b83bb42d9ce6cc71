package main

import (
	"time"

	"github.com/xray-tracer/xray-tracer/internal/local/benchmd"
)

// The variants the comparisons below are taken against.
const (
	xraySDK  = "g" // the X-Ray SDK for Go
	xrayUDP  = "d" // otelsetup's xrayudp
	withAWS  = "h" // otelsetup with otelaws's middleware
	withGRPC = "e" // otelsetup with the upstream gRPC exporter
)

// writeXRaySDK sets otelsetup's two export paths beside the X-Ray SDK for
// Go, the program users are leaving.
func (r *report) writeXRaySDK(p func(string, ...any)) {
	if _, ok := r.Init[xraySDK]; !ok {
		return
	}
	p("## Against the X-Ray SDK")
	p("")
	p("(g) is the X-Ray SDK for Go traced the way its documentation shows for Lambda, with the invocation's own subsegment (ColdStart and Service annotations, as otelsetup's wrapper adds) so that each invocation has as many subsegments as the others have spans. Figures from the tables below; ratios to (g).")
	p("")
	p("| variant | init p50 | ÷ (g) | warm p50 | ÷ (g) | warm p99 | ÷ (g) | binary | ÷ (g) |")
	p("|---|---|---|---|---|---|---|---|---|")
	g := r.Variants[0]
	for _, v := range r.Variants {
		if v.id == xraySDK {
			g = v
		}
	}
	gi, g50, g99, gs := benchmd.Percentile(r.Init[g.id], .5), benchmd.Percentile(r.Warm[g.id], .5), benchmd.Percentile(r.Warm[g.id], .99), float64(r.Size[g.id])
	for _, id := range []string{xraySDK, xrayUDP, ours} {
		for _, v := range r.Variants {
			if v.id != id {
				continue
			}
			i, w50, w99, s := benchmd.Percentile(r.Init[id], .5), benchmd.Percentile(r.Warm[id], .5), benchmd.Percentile(r.Warm[id], .99), float64(r.Size[id])
			p("| (%s) %s | %s | %s | %s | %s | %s | %s | %.1f MB | %s |", id, v.title, ms(i), ratio(float64(i), float64(gi)), ms(w50), ratio(float64(w50), float64(g50)), ms(w99), ratio(float64(w99), float64(g99)), s/1e6, ratio(s, gs))
		}
	}
	p("")
	d50, d99, di := benchmd.Percentile(r.Warm[xrayUDP], .5), benchmd.Percentile(r.Warm[xrayUDP], .99), benchmd.Percentile(r.Init[xrayUDP], .5)
	b50, b99, bi := benchmd.Percentile(r.Warm[ours], .5), benchmd.Percentile(r.Warm[ours], .99), benchmd.Percentile(r.Init[ours], .5)
	p("| goal | measured | |")
	p("|---|---|---|")
	p("| xrayudp warm p50 ≤ X-Ray SDK | %s vs %s | %s |", ms(d50), ms(g50), yes(d50 <= g50))
	p("| xrayudp warm p99 ≤ X-Ray SDK | %s vs %s | %s |", ms(d99), ms(g99), yes(d99 <= g99))
	p("| xrayudp init ≤ X-Ray SDK | p50 %s vs %s | %s |", ms(di), ms(gi), yes(di <= gi))
	p("| OTLP/HTTP's distance from the X-Ray SDK | warm p50 %s, p99 %s, init %s | |", signed(b50-g50), signed(b99-g99), signed(bi-gi))
	p("")
	p("%s", xraySDKText)
	p("")
}

// writeSavings splits otelsetup's saving over stock into its parts: (h)
// differs from (b) only in the AWS SDK middleware (otelaws's), (e) only in
// the exporter (the upstream gRPC one, with gRPC and the protobuf runtime).
func (r *report) writeSavings(p func(string, ...any)) {
	if _, ok := r.Init[withAWS]; !ok {
		return
	}
	p("## What each part of the saving is worth")
	p("")
	p("Each row is one variant less (b), otelsetup as shipped, which differs from it in one part only; stock (c) differs in all of them, its handler wrapper and span processor too.")
	p("")
	p("| part | variant | binary | init p50 | warm p50 | RSS after %d |", r.Plan.rssSecond)
	p("|---|---|---|---|---|---|")
	parts := []struct{ part, id string }{
		{"the AWS SDK middleware: otelaws instead of otelsetup's", withAWS},
		{"the exporter: upstream OTLP/gRPC (gRPC, protobuf runtime) instead of otelsetup's OTLP/HTTP encoder", withGRPC},
		{"all of stock: otellambda, xrayconfig, otelaws, OTLP/gRPC", stock},
	}
	bs, bi, bw, br := r.Size[ours], benchmd.Percentile(r.Init[ours], .5), benchmd.Percentile(r.Warm[ours], .5), r.RSS[ours][1]
	for _, x := range parts {
		s, i, w, m := r.Size[x.id], benchmd.Percentile(r.Init[x.id], .5), benchmd.Percentile(r.Warm[x.id], .5), r.RSS[x.id][1]
		p("| %s | (%s) − (b) | %+.1f MB (%s) | %s | %s | %+d kB |", x.part, x.id, float64(s-bs)/1e6, ratio(float64(s), float64(bs)), signed(i-bi), signed(w-bw), m-br)
	}
	p("")
	p("%s", savingsText)
	p("")
}

// signed is ms with a sign, for a difference.
func signed(d time.Duration) string {
	if d < 0 {
		return ms(d)
	}
	return "+" + ms(d)
}
