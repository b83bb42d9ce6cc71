package otelsetup

import (
	"math"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protowire"
)

// This file encodes spans as OTLP protobuf (an ExportTraceServiceRequest,
// opentelemetry-proto's collector/trace/v1) by hand, with protowire. The
// upstream exporters build the generated Go types first and marshal them
// with the protobuf runtime, which, with the gRPC service stubs that share
// their package, is about a quarter of a function's binary and a millisecond
// of its cold start (BENCHMARKS.md). A Lambda function needs only to write
// the message; the fidelity tests check that the collector reads it.
//
// Field numbers, from opentelemetry-proto's trace.proto, common.proto and
// resource.proto:

const (
	fRequestResourceSpans = 1 // ExportTraceServiceRequest.resource_spans

	fResourceSpansResource   = 1
	fResourceSpansScopeSpans = 2
	fResourceSpansSchemaURL  = 3

	fResourceAttributes = 1

	fScopeSpansScope     = 1
	fScopeSpansSpans     = 2
	fScopeSpansSchemaURL = 3

	fScopeName       = 1
	fScopeVersion    = 2
	fScopeAttributes = 3

	fSpanTraceID           = 1
	fSpanSpanID            = 2
	fSpanTraceState        = 3
	fSpanParentSpanID      = 4
	fSpanName              = 5
	fSpanKind              = 6
	fSpanStart             = 7
	fSpanEnd               = 8
	fSpanAttributes        = 9
	fSpanDroppedAttributes = 10
	fSpanEvents            = 11
	fSpanDroppedEvents     = 12
	fSpanLinks             = 13
	fSpanDroppedLinks      = 14
	fSpanStatus            = 15
	fSpanFlags             = 16

	fEventTime              = 1
	fEventName              = 2
	fEventAttributes        = 3
	fEventDroppedAttributes = 4

	fLinkTraceID           = 1
	fLinkSpanID            = 2
	fLinkTraceState        = 3
	fLinkAttributes        = 4
	fLinkDroppedAttributes = 5
	fLinkFlags             = 6

	fStatusMessage = 2
	fStatusCode    = 3

	fKeyValueKey   = 1
	fKeyValueValue = 2

	fAnyString = 1
	fAnyBool   = 2
	fAnyInt    = 3
	fAnyDouble = 4
	fAnyArray  = 5
	fAnyKVList = 6
	fAnyBytes  = 7

	fArrayValues  = 1
	fKVListValues = 1

	// Span.flags: the low byte is the W3C trace flags; these bits say
	// whether the parent is known to be remote, and if it is.
	flagHasIsRemote = 0x100
	flagIsRemote    = 0x200

	// Status.code: OTLP numbers them unlike the Go API's codes.
	statusOK    = 1
	statusError = 2
)

// begin starts an embedded message field: its tag and a one-byte length
// placeholder. end writes the length once the body is known.
func begin(b []byte, num protowire.Number) ([]byte, int) {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = append(b, 0)
	return b, len(b)
}

// end fills in the length of the message begun at start, moving its body
// when the length takes more than the byte kept for it.
func end(b []byte, start int) []byte {
	n := len(b) - start
	size := protowire.SizeVarint(uint64(n))
	if size == 1 {
		b[start-1] = byte(n)
		return b
	}
	for range size - 1 {
		b = append(b, 0)
	}
	copy(b[start-1+size:], b[start:start+n])
	protowire.AppendVarint(b[:start-1], uint64(n))
	return b
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendFixed64(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, v)
}

func appendFixed32(b []byte, num protowire.Number, v uint32) []byte {
	b = protowire.AppendTag(b, num, protowire.Fixed32Type)
	return protowire.AppendFixed32(b, v)
}

// appendAttributes writes kvs as repeated KeyValue fields; string values
// are cut to maxString bytes when maxString > 0.
func appendAttributes(b []byte, num protowire.Number, kvs []attribute.KeyValue, maxString int) []byte {
	for _, kv := range kvs {
		var start int
		b, start = begin(b, num)
		b = appendString(b, fKeyValueKey, string(kv.Key))
		var vs int
		b, vs = begin(b, fKeyValueValue)
		b = appendValue(b, kv.Value, maxString)
		b = end(b, vs)
		b = end(b, start)
	}
	return b
}

// appendValue writes the fields of an AnyValue. A oneof field is written
// even when it holds its zero value: that is how the reader knows which. An
// empty value is an AnyValue with none.
func appendValue(b []byte, v attribute.Value, maxString int) []byte {
	switch v.Type() {
	case attribute.EMPTY:
		return b
	case attribute.BYTESLICE:
		return appendBytes(b, fAnyBytes, v.AsByteSlice())
	case attribute.MAP:
		var start int
		b, start = begin(b, fAnyKVList)
		b = appendAttributes(b, fKVListValues, v.AsMap(), maxString)
		return end(b, start)
	case attribute.BOOL:
		return appendVarint(b, fAnyBool, protowire.EncodeBool(v.AsBool()))
	case attribute.INT64:
		return appendVarint(b, fAnyInt, uint64(v.AsInt64()))
	case attribute.FLOAT64:
		return appendFixed64(b, fAnyDouble, math.Float64bits(v.AsFloat64()))
	case attribute.STRING:
		return appendString(b, fAnyString, cut(v.AsString(), maxString))
	}
	var start int
	b, start = begin(b, fAnyArray)
	each := func(fn func([]byte) []byte) {
		var e int
		b, e = begin(b, fArrayValues)
		b = fn(b)
		b = end(b, e)
	}
	switch v.Type() {
	case attribute.BOOLSLICE:
		for _, x := range v.AsBoolSlice() {
			each(func(b []byte) []byte { return appendVarint(b, fAnyBool, protowire.EncodeBool(x)) })
		}
	case attribute.INT64SLICE:
		for _, x := range v.AsInt64Slice() {
			each(func(b []byte) []byte { return appendVarint(b, fAnyInt, uint64(x)) })
		}
	case attribute.FLOAT64SLICE:
		for _, x := range v.AsFloat64Slice() {
			each(func(b []byte) []byte { return appendFixed64(b, fAnyDouble, math.Float64bits(x)) })
		}
	case attribute.STRINGSLICE:
		for _, x := range v.AsStringSlice() {
			each(func(b []byte) []byte { return appendString(b, fAnyString, cut(x, maxString)) })
		}
	case attribute.SLICE:
		for _, x := range v.AsSlice() {
			each(func(b []byte) []byte { return appendValue(b, x, maxString) })
		}
	}
	return end(b, start)
}

// cut shortens s to at most n bytes (n > 0) without splitting a character:
// proto3 strings must be valid UTF-8, and an agent that checks drops the
// whole datagram, every span in it, for one split character.
func cut(s string, n int) string {
	if n <= 0 || len(s) <= n {
		return s
	}
	// s[n] is the first byte left out; while it continues a character,
	// that character started before the cut and goes too.
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// spanLimits says what appendSpan leaves out of a span; the zero value
// leaves out nothing. The xrayudp exporter uses them to trim a span that does
// not fit in a datagram (xrayudp_trim.go). What is left out is counted in the
// span's dropped counts.
type spanLimits struct {
	noEvents, noLinks bool
	// maxString cuts every string value and the status message to at most
	// that many bytes (see cut); 0: no cut.
	maxString int
	// maxAttributes keeps the span's first attributes, so that with mark it
	// has at most that many; 0: all.
	maxAttributes int
	// mark, when valid, is written after the span's attributes.
	mark attribute.KeyValue
}

// appendSpan writes the fields of one Span message, leaving out what lim
// says.
func appendSpan(b []byte, s sdktrace.ReadOnlySpan, lim spanLimits) []byte {
	sc := s.SpanContext()
	tid, sid := sc.TraceID(), sc.SpanID()
	b = appendBytes(b, fSpanTraceID, tid[:])
	b = appendBytes(b, fSpanSpanID, sid[:])
	if ts := sc.TraceState().String(); ts != "" {
		b = appendString(b, fSpanTraceState, ts)
	}
	parent := s.Parent()
	if parent.SpanID().IsValid() {
		psid := parent.SpanID()
		b = appendBytes(b, fSpanParentSpanID, psid[:])
	}
	b = appendString(b, fSpanName, s.Name())
	// The API numbers span kinds as OTLP does (internal 1 … consumer 5).
	if k := s.SpanKind(); k != 0 {
		b = appendVarint(b, fSpanKind, uint64(k))
	}
	b = appendFixed64(b, fSpanStart, uint64(s.StartTime().UnixNano()))
	b = appendFixed64(b, fSpanEnd, uint64(s.EndTime().UnixNano()))

	attrs := s.Attributes()
	droppedAttrs := s.DroppedAttributes()
	maxString := lim.maxString
	if keep := lim.maxAttributes; keep > 0 {
		if lim.mark.Valid() {
			keep--
		}
		if len(attrs) > keep {
			droppedAttrs += len(attrs) - keep
			attrs = attrs[:keep]
		}
	}
	b = appendAttributes(b, fSpanAttributes, attrs, maxString)
	if lim.mark.Valid() {
		b = appendAttributes(b, fSpanAttributes, []attribute.KeyValue{lim.mark}, 0)
	}
	if droppedAttrs > 0 {
		b = appendVarint(b, fSpanDroppedAttributes, uint64(droppedAttrs))
	}

	events, droppedEvents := s.Events(), s.DroppedEvents()
	if lim.noEvents {
		droppedEvents += len(events)
		events = nil
	}
	for _, e := range events {
		var start int
		b, start = begin(b, fSpanEvents)
		b = appendFixed64(b, fEventTime, uint64(e.Time.UnixNano()))
		b = appendString(b, fEventName, e.Name)
		b = appendAttributes(b, fEventAttributes, e.Attributes, maxString)
		if e.DroppedAttributeCount > 0 {
			b = appendVarint(b, fEventDroppedAttributes, uint64(e.DroppedAttributeCount))
		}
		b = end(b, start)
	}
	if droppedEvents > 0 {
		b = appendVarint(b, fSpanDroppedEvents, uint64(droppedEvents))
	}

	links, droppedLinks := s.Links(), s.DroppedLinks()
	if lim.noLinks {
		droppedLinks += len(links)
		links = nil
	}
	for _, l := range links {
		var start int
		b, start = begin(b, fSpanLinks)
		ltid, lsid := l.SpanContext.TraceID(), l.SpanContext.SpanID()
		b = appendBytes(b, fLinkTraceID, ltid[:])
		b = appendBytes(b, fLinkSpanID, lsid[:])
		if ts := l.SpanContext.TraceState().String(); ts != "" {
			b = appendString(b, fLinkTraceState, ts)
		}
		b = appendAttributes(b, fLinkAttributes, l.Attributes, maxString)
		if l.DroppedAttributeCount > 0 {
			b = appendVarint(b, fLinkDroppedAttributes, uint64(l.DroppedAttributeCount))
		}
		b = appendFixed32(b, fLinkFlags, spanFlags(l.SpanContext.TraceFlags(), l.SpanContext.IsRemote()))
		b = end(b, start)
	}
	if droppedLinks > 0 {
		b = appendVarint(b, fSpanDroppedLinks, uint64(droppedLinks))
	}

	// Status goes out even when unset, empty, as the upstream exporter
	// sends it.
	st := s.Status()
	var start int
	b, start = begin(b, fSpanStatus)
	if st.Description != "" {
		b = appendString(b, fStatusMessage, cut(st.Description, maxString))
	}
	switch st.Code {
	case codes.Ok:
		b = appendVarint(b, fStatusCode, statusOK)
	case codes.Error:
		b = appendVarint(b, fStatusCode, statusError)
	}
	b = end(b, start)
	return appendFixed32(b, fSpanFlags, spanFlags(sc.TraceFlags(), parent.IsRemote()))
}

// spanFlags are the W3C trace flags, and whether the parent is remote.
func spanFlags(tf trace.TraceFlags, remote bool) uint32 {
	flags := uint32(tf) | flagHasIsRemote
	if remote {
		flags |= flagIsRemote
	}
	return flags
}
