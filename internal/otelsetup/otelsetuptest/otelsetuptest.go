// Package otelsetuptest helps tests of traced Lambda handlers: a Tracing that
// keeps its spans in memory, invocation contexts as Lambda makes them, and
// readers for the attributes that X-Ray turns into annotations.
package otelsetuptest

import (
	"bytes"
	"context"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

// FunctionARN is the ARN of the function in [InvocationContext].
const FunctionARN = "arn:aws:lambda:eu-west-1:123456789012:function:test-function"

// New returns a Tracing set up as in production but exporting to memory.
// The wrapped handler flushes at the end of each invocation, so the exporter
// holds an invocation's spans when its handler returns.
func New(t testing.TB, opts ...otelsetup.Option) (*otelsetup.Tracing, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tr, err := otelsetup.Setup(context.Background(), append([]otelsetup.Option{otelsetup.WithExporter(exp)}, opts...)...)
	if err != nil {
		t.Fatalf("otelsetup.Setup: %v", err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	return tr, exp
}

// InvocationContext is the context aws-lambda-go gives a handler: the
// invocation's Lambda context and, when header is not empty, the X-Ray trace
// header under the key "x-amzn-trace-id".
func InvocationContext(requestID, header string) context.Context {
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{
		AwsRequestID:       requestID,
		InvokedFunctionArn: FunctionARN,
	})
	if header != "" {
		//lint:ignore SA1029 aws-lambda-go stores the header under this plain string key.
		ctx = context.WithValue(ctx, "x-amzn-trace-id", header)
	}
	return ctx
}

// Event returns v as the JSON payload Lambda would send.
func Event(t testing.TB, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode event: %v", err)
	}
	return b
}

// Invoke runs handler as aws-lambda-go runs what lambda.Start is given: the
// payload goes in as bytes, and the JSON answer comes back decoded into Out.
// handler is anything lambda.Start takes, such as what otelsetup.Wrap
// returns.
func Invoke[Out any](t testing.TB, ctx context.Context, handler any, payload []byte) (Out, error) {
	t.Helper()
	var out Out
	answer, err := lambda.NewHandler(handler).Invoke(ctx, payload)
	if err != nil {
		return out, err
	}
	if err := json.Unmarshal(answer, &out); err != nil {
		t.Fatalf("decode the answer %.200q: %v", answer, err)
	}
	return out, nil
}

// Named returns the spans called name, in the order they ended.
func Named(spans tracetest.SpanStubs, name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// One returns the only span called name, and fails the test if there is not
// exactly one.
func One(t testing.TB, spans tracetest.SpanStubs, name string) tracetest.SpanStub {
	t.Helper()
	found := Named(spans, name)
	if len(found) != 1 {
		names := make([]string, len(spans))
		for i, s := range spans {
			names[i] = s.Name
		}
		t.Fatalf("want one span %q, got %d among %q", name, len(found), names)
	}
	return found[0]
}

// Attr returns the value of the attribute key of s.
func Attr(s tracetest.SpanStub, key string) (attribute.Value, bool) {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// Annotations returns the attributes of s that its aws.xray.annotations list
// names, as X-Ray will index them, by key.
func Annotations(s tracetest.SpanStub) map[string]any {
	list, _ := Attr(s, string(otelsetup.AnnotationsKey))
	out := map[string]any{}
	for _, key := range list.AsStringSlice() {
		if v, ok := Attr(s, key); ok {
			out[key] = v.AsInterface()
		}
	}
	return out
}

// AnnotationKeys returns the aws.xray.annotations list of s, sorted.
func AnnotationKeys(s tracetest.SpanStub) []string {
	list, _ := Attr(s, string(otelsetup.AnnotationsKey))
	keys := slices.Clone(list.AsStringSlice())
	slices.Sort(keys)
	return keys
}

// ExceptionType returns the exception.type of the first exception event of
// s: the type X-Ray shows in the cause of the segment; "" if s has none.
func ExceptionType(s tracetest.SpanStub) string {
	for _, ev := range s.Events {
		if ev.Name != "exception" {
			continue
		}
		for _, kv := range ev.Attributes {
			if kv.Key == "exception.type" {
				return kv.Value.AsString()
			}
		}
	}
	return ""
}

// Tree draws the spans as the tree their parent IDs make, one span a line,
// children indented under their parent in the order they started:
//
//	dynamo internal
//	  DynamoDB Query internal {path=/orders/42}
//	    DynamoDB.UpdateItem client
//
// Each line has the span's name, its kind, its annotations, and "ERROR" for
// the status Error. A span whose parent is not among spans is a root.
func Tree(spans tracetest.SpanStubs) string {
	byParent := map[trace.SpanID][]tracetest.SpanStub{}
	ids := map[trace.SpanID]bool{}
	for _, s := range spans {
		ids[s.SpanContext.SpanID()] = true
	}
	var roots []tracetest.SpanStub
	for _, s := range spans {
		if p := s.Parent.SpanID(); s.Parent.IsValid() && ids[p] {
			byParent[p] = append(byParent[p], s)
		} else {
			roots = append(roots, s)
		}
	}
	var b strings.Builder
	var draw func(level int, list []tracetest.SpanStub)
	draw = func(level int, list []tracetest.SpanStub) {
		slices.SortStableFunc(list, func(a, b tracetest.SpanStub) int { return a.StartTime.Compare(b.StartTime) })
		for _, s := range list {
			fmt.Fprintf(&b, "%s%s %s", strings.Repeat("  ", level), s.Name, s.SpanKind)
			if ann := Annotations(s); len(ann) > 0 {
				keys := slices.Sorted(maps.Keys(ann))
				parts := make([]string, len(keys))
				for i, k := range keys {
					parts[i] = fmt.Sprintf("%s=%v", k, ann[k])
				}
				fmt.Fprintf(&b, " {%s}", strings.Join(parts, ", "))
			}
			if s.Status.Code == codes.Error {
				b.WriteString(" ERROR")
			}
			b.WriteString("\n")
			draw(level+1, byParent[s.SpanContext.SpanID()])
		}
	}
	draw(0, roots)
	return b.String()
}

// TraceHeader is a trace header as Lambda passes it with active tracing:
// Root is the trace, Parent the segment Lambda records for the function.
const TraceHeader = "Root=1-674a8c00-5759e988bd862e3fe1be46a9;Parent=53995c3f42cd8ad8;Sampled=1"

// sampleEvents are events as Lambda delivers them, kept with this package
// so that the tests of a handler, and of otelsetup itself, read the same
// payloads wherever the package is copied:
//   - sns-fanout.json: an SNS notification of a topic with a subscribed
//     function, in the shape of AWS's sample event
//     (https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html);
//   - sns-second-topic.json: the same for the pattern's second topic;
//   - sqs-batch.json: an SQS batch as the event source mapping delivers it,
//     with the AWSTraceHeader system attribute SQS sets from the sender's
//     X-Amzn-Trace-Id (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html).
//
//go:embed testdata/events/*.json
var sampleEvents embed.FS

// ReadEvent returns the sample event testdata/events/name of this package.
func ReadEvent(t testing.TB, name string) []byte {
	t.Helper()
	b, err := sampleEvents.ReadFile("testdata/events/" + name)
	if err != nil {
		t.Fatalf("read sample event: %v", err)
	}
	return b
}

// CheckError fails the test unless err matches: nil when target is nil and
// text empty; otherwise an error that wraps target (if set) and contains text
// (if set).
func CheckError(t testing.TB, err, target error, text string) {
	t.Helper()
	wantFail := target != nil || text != ""
	if (err != nil) != wantFail ||
		(target != nil && !errors.Is(err, target)) ||
		(text != "" && !strings.Contains(err.Error(), text)) {
		t.Fatalf("error = %v, want %v containing %q", err, target, text)
	}
}

// CheckTree fails the test unless [Tree] of spans is want.
func CheckTree(t testing.TB, spans tracetest.SpanStubs, want string) {
	t.Helper()
	if got := Tree(spans); got != want {
		t.Errorf("span tree:\n%s\nwant:\n%s", got, want)
	}
}

// XRayAgent is a stand-in for the X-Ray agent Lambda runs in each sandbox,
// as the xrayudp exporter reaches it: it reads UDP datagrams on a loopback
// port and decodes each (protocol header line, T1S/T1U prefix, base64,
// protobuf OTLP ExportTraceServiceRequest). A datagram that does not decode
// is kept as an error.
type XRayAgent struct {
	Addr string

	conn     *net.UDPConn
	mu       sync.Mutex
	requests []*coltracepb.ExportTraceServiceRequest
	sizes    []int
	errs     []error
	forward  func([]byte)
	done     chan struct{}
}

// StartXRayAgent listens on a loopback UDP port until the test ends.
func StartXRayAgent(t testing.TB) *XRayAgent {
	t.Helper()
	a, err := NewXRayAgent()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

// NewXRayAgent listens on a loopback UDP port; Close stops it.
func NewXRayAgent() (*XRayAgent, error) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("agent stand-in: %w", err)
	}
	_ = conn.SetReadBuffer(8 << 20) // hold a burst of a thousand spans
	a := &XRayAgent{Addr: conn.LocalAddr().String(), conn: conn, done: make(chan struct{})}
	go a.read()
	return a, nil
}

// Forward hands the protobuf of every request it decodes to fn as well (the
// fidelity harness posts it to the collector's OTLP receiver).
func (a *XRayAgent) Forward(fn func(payload []byte)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.forward = fn
}

func (a *XRayAgent) read() {
	defer close(a.done)
	buf := make([]byte, 128<<10)
	for {
		n, _, err := a.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		req, payload, err := DecodeDatagram(buf[:n])
		a.mu.Lock()
		a.sizes = append(a.sizes, n)
		if err != nil {
			a.errs = append(a.errs, err)
		} else {
			a.requests = append(a.requests, req)
		}
		forward := a.forward
		a.mu.Unlock()
		if err == nil && forward != nil {
			forward(payload)
		}
	}
}

// DecodeDatagram decodes one datagram of the X-Ray agent's OTLP format.
func DecodeDatagram(d []byte) (*coltracepb.ExportTraceServiceRequest, []byte, error) {
	header, rest, ok := bytes.Cut(d, []byte("\n"))
	if !ok || string(header) != `{"format":"json","version":1}` {
		return nil, nil, fmt.Errorf("datagram header %.40q: want {\"format\":\"json\",\"version\":1} and a newline", header)
	}
	if !bytes.HasPrefix(rest, []byte("T1S")) && !bytes.HasPrefix(rest, []byte("T1U")) {
		return nil, nil, fmt.Errorf("datagram prefix %.3q: want T1S or T1U", rest)
	}
	payload, err := base64.StdEncoding.DecodeString(string(rest[3:]))
	if err != nil {
		return nil, nil, fmt.Errorf("datagram body is not base64: %w", err)
	}
	req := &coltracepb.ExportTraceServiceRequest{}
	if err := proto.Unmarshal(payload, req); err != nil {
		return nil, nil, fmt.Errorf("datagram body is not an OTLP trace request: %w", err)
	}
	return req, payload, nil
}

// Spans returns every span received so far, in order.
func (a *XRayAgent) Spans() []*tracepb.Span {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*tracepb.Span
	for _, r := range a.requests {
		for _, rs := range r.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				out = append(out, ss.Spans...)
			}
		}
	}
	return out
}

// Datagrams returns the size of every datagram received, and the decoding
// errors.
func (a *XRayAgent) Datagrams() ([]int, []error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.sizes), slices.Clone(a.errs)
}

// WaitForSpans waits up to timeout until n spans have been received. A
// datagram sent before the handler returned is already in the socket's
// buffer; this only gives the reading goroutine time to decode it.
func (a *XRayAgent) WaitForSpans(n int, timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	for {
		got := len(a.Spans())
		if got >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(time.Millisecond)
	}
}

// Close stops the stand-in.
func (a *XRayAgent) Close() {
	_ = a.conn.Close()
	<-a.done
}
