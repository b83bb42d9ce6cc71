package otelsetup

import "go.opentelemetry.io/otel/attribute"

// TrimmedAttribute marks a span that did not fit in one datagram and was
// trimmed to fit, by this rule: drop its events, then its links, then cut
// each string value to at most 1 KiB, never inside a UTF-8 character (an
// agent drops a datagram with invalid UTF-8 whole), then keep only its
// first 32 attributes (this mark included); stop as soon as it fits. The
// dropped counts say what went, so a trimmed span is never mistaken for a
// whole one.
const TrimmedAttribute = "otel.xrayudp.trimmed"

// trimLevel says how much of a span to leave out so that it fits in an X-Ray
// agent datagram: each level leaves out what the ones before it did, and
// marks the span with TrimmedAttribute.
type trimLevel int

const (
	trimNone             trimLevel = iota
	trimEvents                     // drop events
	trimLinks                      // and links
	trimStrings                    // and cut string values to maxTrimmedString bytes
	trimAttributes                 // and keep the first maxTrimmedAttributes-1 attributes
	maxTrimmedString     = 1024
	maxTrimmedAttributes = 32
)

// limits is what appendSpan leaves out at level l.
func (l trimLevel) limits() spanLimits {
	if l == trimNone {
		return spanLimits{}
	}
	lim := spanLimits{
		noEvents: l >= trimEvents,
		noLinks:  l >= trimLinks,
		mark:     attribute.Bool(TrimmedAttribute, true),
	}
	if l >= trimStrings {
		lim.maxString = maxTrimmedString
	}
	if l >= trimAttributes {
		lim.maxAttributes = maxTrimmedAttributes
	}
	return lim
}

// trim encodes s again, a level more trimmed each time, until its field takes
// at most room bytes or there is nothing more to leave out; the caller drops
// a span that still does not fit.
func trim(s encodedSpan, room int) encodedSpan {
	for level := trimEvents; fieldSize(len(s.body)) > room && level <= trimAttributes; level++ {
		s.body = appendSpan(nil, s.span, level.limits())
	}
	return s
}
