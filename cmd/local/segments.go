package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/internal/local/xrayapi"
	"github.com/xray-tracer/xray-tracer/internal/local/xrayview"
)

// awsSegments turns the spans the runner records for the AWS services it
// stands in for into the segments those services record themselves with
// active tracing (xrayapi's Stage, Topic and Invocation), straight into the
// X-Ray view's store. They do not go through the collector: the awsxray
// exporter would make each a segment named after its service with no AWS
// origin, and one segment per Lambda invocation where Lambda records two,
// which is not the map X-Ray draws. The functions' own spans do go through
// it, as in AWS.
type awsSegments struct {
	store *xrayview.Store
	api   string // the API's host, for the stage segment's URL

	mu sync.Mutex
	// publish holds the API's SNS Publish call by its stage span's id,
	// until the stage span ends: its id is the integration subsegment's,
	// the parent the fan-out topic's segment names.
	publish map[trace.SpanID]trace.SpanID
}

var _ sdktrace.SpanProcessor = (*awsSegments)(nil)

func newAWSSegments(store *xrayview.Store, api string) *awsSegments {
	return &awsSegments{store: store, api: api, publish: map[trace.SpanID]trace.SpanID{}}
}

func (a *awsSegments) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (a *awsSegments) Shutdown(context.Context) error                  { return nil }
func (a *awsSegments) ForceFlush(context.Context) error                { return nil }

// OnEnd tells the services' spans apart by what they carry: the Lambda
// service's invocation names the function invoked, a topic's span its
// messaging system, the stage's its route; the API's SDK call is its only
// client span.
func (a *awsSegments) OnEnd(sp sdktrace.ReadOnlySpan) {
	attrs := map[attribute.Key]attribute.Value{}
	for _, kv := range sp.Attributes() {
		attrs[kv.Key] = kv.Value
	}
	sc := sp.SpanContext()
	traceID, id := xrayTraceID(sc.TraceID()), sc.SpanID().String()
	start, end := seconds(sp.StartTime()), seconds(sp.EndTime())
	failed := sp.Status().Code == codes.Error
	var parent string
	if sp.Parent().IsValid() {
		parent = sp.Parent().SpanID().String()
	}
	switch {
	case sp.SpanKind() == trace.SpanKindClient:
		a.mu.Lock()
		a.publish[sp.Parent().SpanID()] = sc.SpanID()
		a.mu.Unlock()
	case sp.SpanKind() != trace.SpanKindServer:
	case attrs[semconv.FaaSInvokedNameKey].AsString() != "":
		fn := sp.Name()
		var links []xrayview.Link
		for _, l := range sp.Links() {
			links = append(links, xrayview.Link{TraceID: xrayTraceID(l.SpanContext.TraceID()), ID: l.SpanContext.SpanID().String()})
		}
		a.store.Add(xrayapi.Invocation{
			Function: fn, ARN: "arn:aws:lambda:" + region + ":" + account + ":function:" + fn, TraceID: traceID,
			ServiceID: newSegmentID(), ParentID: parent, FunctionID: id, Start: start, End: end,
			RequestID: attrs[semconv.FaaSInvocationIDKey].AsString(), Links: links, Failed: failed,
		}.Segments()...)
	case attrs[semconv.MessagingSystemKey].AsString() == semconv.MessagingSystemAWSSNS.Value.AsString():
		a.store.Add(xrayapi.Topic(sp.Name(), topicARN(sp.Name()), traceID, id, parent, start, end, failed))
	case attrs[semconv.HTTPRouteKey].AsString() != "":
		a.mu.Lock()
		integration, ok := a.publish[sc.SpanID()]
		delete(a.publish, sc.SpanID())
		a.mu.Unlock()
		integrationID := newSegmentID()
		if ok {
			integrationID = integration.String()
		}
		a.store.Add(xrayapi.Stage{
			Name: sp.Name(), TraceID: traceID, ID: id, IntegrationID: integrationID, Start: start, End: end,
			Method: attrs[semconv.HTTPRequestMethodKey].AsString(), URL: "http://" + a.api + attrs[semconv.URLPathKey].AsString(),
			Status: int(attrs[semconv.HTTPResponseStatusCodeKey].AsInt64()), Region: region,
		}.Segment())
	}
}

// xrayTraceID writes a trace id in X-Ray's form, 1-xxxxxxxx-….
func xrayTraceID(id trace.TraceID) string {
	h := id.String()
	return "1-" + h[:8] + "-" + h[8:]
}

func seconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// newSegmentID is a segment id for a segment that has no span of its own
// (Lambda's service segment, an integration without a call).
func newSegmentID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
