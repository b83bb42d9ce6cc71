package harness

import (
	"github.com/xray-tracer/xray-tracer/internal/local/xrayapi"
	"github.com/xray-tracer/xray-tracer/internal/local/xrayview"
)

// The segment document types live in xrayview, beside the service map and
// the trace views built from them, so that the X-Ray stand-in, the fidelity
// tests, make xray-segments and the local page read documents one way. The
// aliases keep harness.Segment and its parts usable as before.
type (
	// Segment is a segment document as PutTraceSegments receives it.
	Segment = xrayview.Segment
	// Cause records why a segment failed.
	Cause = xrayview.Cause
	// Exception is one exception of a Cause.
	Exception = xrayview.Exception
	// StackFrame is one frame of an Exception's stack.
	StackFrame = xrayview.StackFrame
	// HTTP is a segment's http object.
	HTTP = xrayview.HTTP
	// HTTPRequest is the request half of HTTP.
	HTTPRequest = xrayview.HTTPRequest
	// HTTPResponse is the response half of HTTP.
	HTTPResponse = xrayview.HTTPResponse
	// AWS is a segment's aws object.
	AWS = xrayview.AWS
	// Link is a span link, which the awsxray exporter writes as "links".
	Link = xrayview.Link
)

// Flatten returns every segment and every embedded subsegment, depth first in
// document order, as xrayview.Flatten does.
func Flatten(segs []Segment) []Segment { return xrayview.Flatten(segs) }

// The X-Ray stand-in lives in internal/local/xrayapi, which the local runner
// uses too; the aliases keep harness.XRay and harness.NewXRay as before.
type (
	// XRay stands in for PutTraceSegments and keeps what it accepts.
	XRay = xrayapi.XRay
	// UnprocessedTraceSegment is a document the stand-in refused.
	UnprocessedTraceSegment = xrayapi.UnprocessedTraceSegment
)

// NewXRay starts the X-Ray stand-in on a random loopback port.
func NewXRay() (*XRay, error) { return xrayapi.New() }
