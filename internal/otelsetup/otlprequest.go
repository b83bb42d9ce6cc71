package otelsetup

import (
	"slices"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// This file puts encoded spans (otlpproto.go) together into an
// ExportTraceServiceRequest: one ResourceSpans per resource, one ScopeSpans
// per instrumentation scope in it.

// spanGroup is the spans of one resource and instrumentation scope.
type spanGroup struct {
	res   *resource.Resource
	scope instrumentation.Scope
	spans []encodedSpan
}

// encodedSpan is one span's Span message.
type encodedSpan struct {
	span sdktrace.ReadOnlySpan
	body []byte
}

// resourceKey tells resources apart; groupKey, resources and scopes.
type resourceKey struct {
	res attribute.Distinct
	url string
}

type groupKey struct {
	resourceKey
	scope instrumentation.Scope
}

func keyOf(s sdktrace.ReadOnlySpan) groupKey {
	key := groupKey{scope: s.InstrumentationScope()}
	if res := s.Resource(); res != nil {
		key.res, key.url = res.Equivalent(), res.SchemaURL()
	}
	return key
}

// group sorts spans by resource, then by scope: resources in the order of
// their first span, each resource's scopes likewise, and each group's spans
// in their order. Groups of one resource are adjacent.
//
// A function's spans come from one resource and a few scopes, so a linear
// search finds a span's group: maps cost more to build on every flush than
// they save.
func group(spans []encodedSpan) []spanGroup {
	if len(spans) == 0 {
		return nil
	}
	// Usually all of an export's spans are of one group (one resource, and
	// otelsetup's scope): then the group is the spans as they came.
	first := keyOf(spans[0].span)
	if !slices.ContainsFunc(spans[1:], func(s encodedSpan) bool { return keyOf(s.span) != first }) {
		return []spanGroup{{res: spans[0].span.Resource(), scope: first.scope, spans: spans}}
	}
	type resourceGroups struct {
		key    resourceKey
		groups []spanGroup
	}
	var resources []resourceGroups
	for _, s := range spans {
		key := keyOf(s.span)
		r := slices.IndexFunc(resources, func(r resourceGroups) bool { return r.key == key.resourceKey })
		if r < 0 {
			r = len(resources)
			resources = append(resources, resourceGroups{key: key.resourceKey})
		}
		groups := &resources[r].groups
		i := slices.IndexFunc(*groups, func(g spanGroup) bool { return g.scope == key.scope })
		if i < 0 {
			i = len(*groups)
			res := s.span.Resource()
			if i > 0 {
				res = (*groups)[0].res // the first span's, as before
			}
			*groups = append(*groups, spanGroup{res: res, scope: key.scope})
		}
		(*groups)[i].spans = append((*groups)[i].spans, s)
	}
	var out []spanGroup
	for _, r := range resources {
		out = append(out, r.groups...)
	}
	return out
}

// requestSizeHint is about what appendRequest writes for groups: their
// spans, and room for a resource and a scope per group. A buffer of that
// capacity is allocated once instead of grown a dozen times from nothing.
func requestSizeHint(groups []spanGroup) int {
	n := 0
	for _, g := range groups {
		n += 1024
		for _, s := range g.spans {
			n += fieldSize(len(s.body))
		}
	}
	return n
}

// appendRequest writes an ExportTraceServiceRequest holding the groups
// (as group returns them): one ResourceSpans per resource.
func appendRequest(b []byte, groups []spanGroup) []byte {
	for i := 0; i < len(groups); {
		res := groups[i].res
		var rs int
		b, rs = begin(b, fRequestResourceSpans)
		if res != nil {
			var r int
			b, r = begin(b, fResourceSpansResource)
			b = appendAttributes(b, fResourceAttributes, res.Attributes(), 0)
			b = end(b, r)
		}
		for ; i < len(groups) && sameResource(groups[i].res, res); i++ {
			g := groups[i]
			var ss int
			b, ss = begin(b, fResourceSpansScopeSpans)
			var sc int
			b, sc = begin(b, fScopeSpansScope)
			if g.scope.Name != "" {
				b = appendString(b, fScopeName, g.scope.Name)
			}
			if g.scope.Version != "" {
				b = appendString(b, fScopeVersion, g.scope.Version)
			}
			b = appendAttributes(b, fScopeAttributes, g.scope.Attributes.ToSlice(), 0)
			b = end(b, sc)
			for _, s := range g.spans {
				b = appendBytes(b, fScopeSpansSpans, s.body)
			}
			if g.scope.SchemaURL != "" {
				b = appendString(b, fScopeSpansSchemaURL, g.scope.SchemaURL)
			}
			b = end(b, ss)
		}
		if res != nil && res.SchemaURL() != "" {
			b = appendString(b, fResourceSpansSchemaURL, res.SchemaURL())
		}
		b = end(b, rs)
	}
	return b
}

func sameResource(a, b *resource.Resource) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a == b || (a.Equivalent() == b.Equivalent() && a.SchemaURL() == b.SchemaURL())
}

// spanSizeHint is about what a span of a Lambda function takes encoded (a
// name, ids, times, a few attributes): encodeSpans's buffer starts that
// large per span rather than grow from nothing on every flush.
const spanSizeHint = 256

// encodeSpans encodes each span whole, into one shared buffer.
func encodeSpans(spans []sdktrace.ReadOnlySpan) []encodedSpan {
	out, _ := encodeSpansInto(nil, nil, spans)
	return out
}

// encodeSpansInto is encodeSpans writing into out's and buf's space, grown
// as needed; it returns both, for the caller to use again.
func encodeSpansInto(out []encodedSpan, buf []byte, spans []sdktrace.ReadOnlySpan) ([]encodedSpan, []byte) {
	out = slices.Grow(out[:0], len(spans))[:len(spans)]
	buf = slices.Grow(buf[:0], spanSizeHint*len(spans))
	for i, s := range spans {
		start := len(buf)
		buf = appendSpan(buf, s, spanLimits{})
		out[i] = encodedSpan{span: s, body: buf[start:len(buf):len(buf)]}
	}
	// buf may have moved while it grew: point every body into its final
	// backing array.
	off := 0
	for i := range out {
		n := len(out[i].body)
		out[i].body = buf[off : off+n : off+n]
		off += n
	}
	return out, buf
}
