package otelsetup

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// The X-Ray trace header, X-Amzn-Trace-Id, as AWS services pass it:
//
//	Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=1:fe460cdd:0
//
// Root is the trace (version 1, the start's epoch second in hex, 96 random
// bits), Parent the id of the calling segment or subsegment, Sampled the
// sampling decision: 1, 0, or ? when the caller leaves it to the receiver
// (the X-Ray SDK for Go calls that "Requested", header.SamplingDecision).
// Any other field belongs to someone else and travels on unchanged: Lambda's
// recursive loop detection counts the hops of one event in Lineage, and
// stops a loop through SQS, SNS or Lambda only if every function passes it
// on (aws-observability/aws-otel-js-instrumentation issue 527 is the same
// loss in another language); load balancers add Self.
//
// This file reads and writes that header for this package, instead of
// go.opentelemetry.io/contrib/propagators/aws, which is deprecated, has no
// owner, keeps only Root, Parent and Sampled, reads Sampled=? as "not
// sampled", loses Parent when a space follows a ';' and drops a header
// without Parent.
const (
	traceHeaderName = "X-Amzn-Trace-Id"
	traceIDVersion  = "1"
)

// traceHeader is a parsed X-Amzn-Trace-Id header.
type traceHeader struct {
	traceID trace.TraceID // Root
	// parentID is Parent; invalid (zero) when the header has none, as in
	// Lambda's PassThrough mode, which sends Root alone.
	parentID trace.SpanID
	// sampled is '1', '0', '?', or 0 when the header has no Sampled field.
	sampled byte
	// extra holds every other field as it arrived, in order, joined by ';'.
	extra string
}

// errTraceHeader is wrapped by every error of parseTraceHeader.
var errTraceHeader = errors.New("malformed X-Amzn-Trace-Id header")

// parseTraceHeader reads an X-Amzn-Trace-Id value. Spaces around fields,
// keys and values are ignored, and so are empty fields (a trailing ';').
// Root is required; Parent and Sampled are optional.
func parseTraceHeader(s string) (traceHeader, error) {
	var (
		h       traceHeader
		hasRoot bool
		extra   []string
	)
	// The header goes out again on every call: a byte that HTTP does not
	// allow in a header value would make each of those calls fail.
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c > '~' {
			return traceHeader{}, fmt.Errorf("byte %#02x at %d is not printable ASCII: %w", c, i, errTraceHeader)
		}
	}
	for field := range strings.SplitSeq(s, ";") {
		field = strings.TrimSpace(field)
		if field == "" {
			continue
		}
		key, value, ok := strings.Cut(field, "=")
		if !ok {
			return traceHeader{}, fmt.Errorf("field %q has no '=': %w", field, errTraceHeader)
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		switch key {
		case "":
			return traceHeader{}, fmt.Errorf("field %q has no name: %w", field, errTraceHeader)
		case "Root":
			id, err := parseXRayTraceID(value)
			if err != nil {
				return traceHeader{}, err
			}
			h.traceID, hasRoot = id, true
		case "Parent":
			id, err := trace.SpanIDFromHex(value)
			if err != nil || len(value) != 16 {
				return traceHeader{}, fmt.Errorf("field Parent=%q: want 16 hex digits, not all zero: %w", value, errTraceHeader)
			}
			h.parentID = id
		case "Sampled":
			if len(value) != 1 || !strings.Contains("01?", value) {
				return traceHeader{}, fmt.Errorf("field Sampled=%q: want 1, 0 or ?: %w", value, errTraceHeader)
			}
			h.sampled = value[0]
		default:
			extra = append(extra, key+"="+value)
		}
	}
	if !hasRoot {
		return traceHeader{}, fmt.Errorf("no Root field: %w", errTraceHeader)
	}
	h.extra = strings.Join(extra, ";")
	return h, nil
}

// parseXRayTraceID reads a Root value: 1-<8 hex digits>-<24 hex digits>.
func parseXRayTraceID(v string) (trace.TraceID, error) {
	version, rest, ok1 := strings.Cut(v, "-")
	epoch, random, ok2 := strings.Cut(rest, "-")
	if !ok1 || !ok2 || version != traceIDVersion || len(epoch) != 8 || len(random) != 24 {
		return trace.TraceID{}, fmt.Errorf("field Root=%q: want 1-<8 hex digits>-<24 hex digits>: %w", v, errTraceHeader)
	}
	id, err := trace.TraceIDFromHex(epoch + random)
	if err != nil {
		return trace.TraceID{}, fmt.Errorf("field Root=%q: want 1-<8 hex digits>-<24 hex digits>, not all zero: %w", v, errTraceHeader)
	}
	return id, nil
}

// String writes the header in the order AWS services write it: Root,
// Parent, Sampled, then the other fields as they arrived.
func (h traceHeader) String() string {
	var b strings.Builder
	b.Grow(96 + len(h.extra))
	tid := h.traceID.String()
	b.WriteString("Root=" + traceIDVersion + "-")
	b.WriteString(tid[:8])
	b.WriteByte('-')
	b.WriteString(tid[8:])
	if h.parentID.IsValid() {
		b.WriteString(";Parent=")
		b.WriteString(h.parentID.String())
	}
	if h.sampled != 0 {
		b.WriteString(";Sampled=")
		b.WriteByte(h.sampled)
	}
	if h.extra != "" {
		b.WriteByte(';')
		b.WriteString(h.extra)
	}
	return b.String()
}

// deferred reports whether the header leaves the sampling decision to the
// receiver: Sampled=?, or no Sampled field at all.
func (h traceHeader) deferred() bool { return h.sampled != '1' && h.sampled != '0' }

// spanContext is the remote parent the header names; invalid without Parent.
func (h traceHeader) spanContext() trace.SpanContext {
	var flags trace.TraceFlags
	if h.sampled == '1' {
		flags = trace.FlagsSampled
	}
	return trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: h.traceID, SpanID: h.parentID, TraceFlags: flags, Remote: true,
	})
}

type traceHeaderKey struct{}

// contextWithTraceHeader returns ctx carrying h: its Parent as the remote
// span context, and the whole header for what a span context cannot hold
// (a missing Parent, Sampled=?, the other fields).
func contextWithTraceHeader(ctx context.Context, h traceHeader) context.Context {
	ctx = context.WithValue(ctx, traceHeaderKey{}, h)
	if sc := h.spanContext(); sc.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, sc)
	}
	return ctx
}

func traceHeaderFromContext(ctx context.Context) (traceHeader, bool) {
	h, ok := ctx.Value(traceHeaderKey{}).(traceHeader)
	return h, ok
}

// XRayPropagator reads and writes the X-Amzn-Trace-Id header by the rules
// AWS services follow, which go.opentelemetry.io/contrib/propagators/aws does
// not (see the top of this file):
//   - fields other than Root, Parent and Sampled, such as Lambda's Lineage,
//     go out again on every header injected from the extracted context, with
//     the same Root and a new Parent;
//   - Sampled=? (or no Sampled) leaves the decision to this process's
//     sampler, as a root decision on the given Root ([Setup]'s sampler);
//   - a header with Root but no Parent continues that trace: the first span
//     gets Root as its trace ID and no parent ([Setup]'s ID generator);
//   - spaces after ';' and around '=' are ignored.
//
// Extract leaves ctx as it is when the header is missing or malformed.
type XRayPropagator struct{}

var _ propagation.TextMapPropagator = XRayPropagator{}

// Inject sets X-Amzn-Trace-Id from the span in ctx and the header ctx was
// extracted from: Root and Parent are the span's trace and span IDs and
// Sampled its flag, the other fields are the extracted header's. When ctx
// holds no span of its own (OTEL_SDK_DISABLED, or a header without Parent
// before any span starts), the extracted header goes on as it arrived.
func (XRayPropagator) Inject(ctx context.Context, carrier propagation.TextMapCarrier) {
	if h, ok := outgoingTraceHeader(ctx); ok {
		carrier.Set(traceHeaderName, h.String())
	}
}

// outgoingTraceHeader is the header to send from ctx, if there is one.
func outgoingTraceHeader(ctx context.Context) (traceHeader, bool) {
	sc := trace.SpanContextFromContext(ctx)
	in, hasIn := traceHeaderFromContext(ctx)
	if hasIn && (!sc.IsValid() || sc.IsRemote() && sc.TraceID() == in.traceID && sc.SpanID() == in.parentID) {
		// No span was started under the header: pass it on unchanged,
		// Sampled=? included.
		return in, true
	}
	if !sc.IsValid() {
		return traceHeader{}, false
	}
	out := traceHeader{traceID: sc.TraceID(), parentID: sc.SpanID(), sampled: '0'}
	if sc.IsSampled() {
		out.sampled = '1'
	}
	if hasIn {
		out.extra = in.extra
	}
	return out, true
}

// Extract reads X-Amzn-Trace-Id into ctx.
func (XRayPropagator) Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	v := carrier.Get(traceHeaderName)
	if v == "" {
		return ctx
	}
	h, err := parseTraceHeader(v)
	if err != nil {
		return ctx
	}
	return contextWithTraceHeader(ctx, h)
}

// Fields returns the header the propagator sets.
func (XRayPropagator) Fields() []string { return []string{traceHeaderName} }

// withExtraFields returns ctx with the extra fields of header (a header
// already on an outgoing request, which the AWS SDK's recursion-detection
// middleware copies from _X_AMZN_TRACE_ID) as the fields to pass on, unless
// ctx carries an invocation's fields already.
func withExtraFields(ctx context.Context, header string) context.Context {
	in, ok := traceHeaderFromContext(ctx)
	if ok && in.extra != "" {
		return ctx
	}
	extra := extraFields(header)
	if extra == "" {
		return ctx
	}
	if !ok {
		sc := trace.SpanContextFromContext(ctx)
		if !sc.IsValid() {
			return ctx // nothing to replace the request's header with
		}
		in = traceHeader{traceID: sc.TraceID(), parentID: sc.SpanID(), sampled: '0'}
		if sc.IsSampled() {
			in.sampled = '1'
		}
	}
	in.extra = extra
	return context.WithValue(ctx, traceHeaderKey{}, in)
}

// extraFields returns the fields of header other than Root, Parent and
// Sampled, as parseTraceHeader would, even when the rest is malformed.
func extraFields(header string) string {
	var extra []string
	for field := range strings.SplitSeq(header, ";") {
		key, value, ok := strings.Cut(field, "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !ok || key == "" || key == "Root" || key == "Parent" || key == "Sampled" {
			continue
		}
		extra = append(extra, key+"="+value)
	}
	return strings.Join(extra, ";")
}

// headerSampler applies the header's Sampled field where the function's
// sampler alone cannot: for the span started directly under the header
// (its remote Parent, or no parent when the header has none).
//   - Sampled=? or none: the decision is deferred, so the sampler decides as
//     for a root span of the header's trace (a parent-based sampler would
//     otherwise read the missing flag as "not sampled").
//   - Sampled=1 or 0 without Parent: the sampler decides as if the flag came
//     with a parent, so a parent-based sampler follows it.
//
// Every other span goes to the sampler unchanged.
type headerSampler struct{ sdktrace.Sampler }

func (s headerSampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	h, ok := traceHeaderFromContext(p.ParentContext)
	if !ok || p.TraceID != h.traceID {
		return s.Sampler.ShouldSample(p)
	}
	parent := trace.SpanContextFromContext(p.ParentContext)
	if parent.IsValid() && (!parent.IsRemote() || parent.SpanID() != h.parentID) {
		return s.Sampler.ShouldSample(p) // a descendant of the first span
	}
	switch {
	case h.deferred():
		p.ParentContext = trace.ContextWithSpanContext(p.ParentContext, trace.SpanContext{})
		res := s.Sampler.ShouldSample(p)
		res.Tracestate = parent.TraceState()
		return res
	case !parent.IsValid():
		// A stand-in parent carries the flag; the SDK takes the span's
		// real parent (none) from the context, not from the sampler.
		p.ParentContext = trace.ContextWithRemoteSpanContext(p.ParentContext, trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: h.traceID, SpanID: trace.SpanID{0, 0, 0, 0, 0, 0, 0, 1}, TraceFlags: h.spanContext().TraceFlags(), Remote: true,
		}))
	}
	return s.Sampler.ShouldSample(p)
}

func (s headerSampler) Description() string {
	return "XRayHeader{" + s.Sampler.Description() + "}"
}

// xrayIDGenerator makes IDs X-Ray accepts: X-Ray keeps a trace only if the
// first 32 bits of its ID are the epoch second in which it started, so new
// traces (no Lambda header, local runs) need such IDs. A span started with no
// parent under a header that has Root but no Parent continues Root.
type xrayIDGenerator struct{}

var _ sdktrace.IDGenerator = xrayIDGenerator{}

func (xrayIDGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	if h, ok := traceHeaderFromContext(ctx); ok && !h.parentID.IsValid() {
		return h.traceID, newSpanID()
	}
	var tid trace.TraceID
	binary.BigEndian.PutUint32(tid[:4], uint32(time.Now().Unix()))
	fill(tid[4:])
	return tid, newSpanID()
}

func (xrayIDGenerator) NewSpanID(context.Context, trace.TraceID) trace.SpanID {
	return newSpanID()
}

func newSpanID() trace.SpanID {
	var sid trace.SpanID
	for !sid.IsValid() {
		fill(sid[:])
	}
	return sid
}

// fill writes random bytes to b, from the runtime's generator: safe for
// concurrent use, seeded per process, and cheap enough to call per span.
func fill(b []byte) {
	for i := 0; i < len(b); i += 8 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], rand.Uint64())
		copy(b[i:], w[:])
	}
}
