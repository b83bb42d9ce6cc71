package otelsetup

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// The datagram format of the X-Ray agent for OTLP spans, as AWS's own
// OpenTelemetry UDP exporters write it (aws-otel-python-instrumentation,
// exporters/aws-otel-otlp-udp-exporter/.../udp/exporter.py; aws-otel-js-
// instrumentation's UDP exporter): a protocol header line, a prefix, and the
// base64 of a protobuf OTLP ExportTraceServiceRequest.
const (
	udpProtocolHeader = `{"format":"json","version":1}` + "\n"
	// udpSampledPrefix marks sampled spans ("T1U" would mark unsampled ones,
	// which never reach an exporter: the batch span processor drops them).
	udpSampledPrefix = "T1S"
	// DefaultXRayDaemonAddress is where Lambda's X-Ray agent listens unless
	// AWS_XRAY_DAEMON_ADDRESS says otherwise.
	DefaultXRayDaemonAddress = "127.0.0.1:2000"
	// MaxUDPDatagram bounds each datagram: the X-Ray daemon reads UDP
	// datagrams into 64 KiB buffers; a little is kept free below that.
	MaxUDPDatagram = 64*1024 - 512
	// udpWriteTimeout bounds each send, so that a full socket buffer drops
	// a datagram instead of holding the invocation.
	udpWriteTimeout = 20 * time.Millisecond
)

// TrimmedAttribute marks a span that did not fit in one datagram and was
// trimmed to fit (see trimSpan for the rule).
const TrimmedAttribute = "otel.xrayudp.trimmed"

// newXRayUDPExporter is the exporter OTEL_TRACES_EXPORTER=xrayudp selects:
// OTLP spans as UDP datagrams to the X-Ray agent that Lambda runs in every
// sandbox with active tracing, so no collector layer is needed. Spans are
// converted by the upstream OTLP exporter; udpClient only frames and sends.
func newXRayUDPExporter(ctx context.Context, getenv func(string) string) (*otlptrace.Exporter, error) {
	addr, err := daemonAddress(getenv("AWS_XRAY_DAEMON_ADDRESS"))
	if err != nil {
		return nil, err
	}
	return otlptrace.New(ctx, &udpClient{addr: addr, maxDatagram: MaxUDPDatagram})
}

// daemonAddress reads AWS_XRAY_DAEMON_ADDRESS: "host:port", or the X-Ray
// SDKs' "tcp:host:port udp:host:port" form, of which the UDP part is used.
func daemonAddress(v string) (*net.UDPAddr, error) {
	addr := strings.TrimSpace(v)
	switch {
	case addr == "":
		addr = DefaultXRayDaemonAddress
	case strings.HasPrefix(addr, "tcp:") || strings.HasPrefix(addr, "udp:"):
		addr = ""
		for field := range strings.FieldsSeq(v) {
			if rest, ok := strings.CutPrefix(field, "udp:"); ok {
				addr = rest
			}
		}
	}
	resolved, err := net.ResolveUDPAddr("udp", addr)
	if err != nil || addr == "" {
		return nil, fmt.Errorf("AWS_XRAY_DAEMON_ADDRESS=%q: want host:port or \"tcp:host:port udp:host:port\": %v", v, err)
	}
	return resolved, nil
}

// udpClient is an otlptrace.Client that sends each upload as one or more
// datagrams, none larger than maxDatagram.
type udpClient struct {
	addr        *net.UDPAddr
	maxDatagram int

	mu   sync.Mutex
	conn *net.UDPConn
}

func (c *udpClient) Start(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		return nil
	}
	// An unconnected socket: a dead port answers with ICMP, which must not
	// turn into errors on later sends.
	conn, err := net.ListenUDP("udp", nil)
	if err != nil {
		return fmt.Errorf("xrayudp: open socket: %w", err)
	}
	c.conn = conn
	return nil
}

func (c *udpClient) Stop(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return nil
	}
	err := c.conn.Close()
	c.conn = nil
	return err
}

// maxPayload is the largest protobuf request whose datagram fits.
func (c *udpClient) maxPayload() int {
	return (c.maxDatagram - len(udpProtocolHeader) - len(udpSampledPrefix)) / 4 * 3
}

func (c *udpClient) UploadTraces(ctx context.Context, rss []*tracepb.ResourceSpans) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return errors.New("xrayudp: exporter is stopped")
	}
	var errs []error
	for _, batch := range splitSpans(rss, c.maxPayload()) {
		payload, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: batch})
		if err != nil {
			errs = append(errs, fmt.Errorf("xrayudp: encode: %w", err))
			continue
		}
		if len(payload) > c.maxPayload() {
			// Only a span trimmed to nothing more can come here: its name or
			// resource alone is too large.
			errs = append(errs, fmt.Errorf("xrayudp: dropped %d spans: %d bytes do not fit in a datagram even trimmed", countSpans(batch), len(payload)))
			continue
		}
		if err := c.send(payload); err != nil {
			errs = append(errs, err)
		}
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
	}
	return errors.Join(errs...)
}

func (c *udpClient) send(payload []byte) error {
	buf := make([]byte, 0, len(udpProtocolHeader)+len(udpSampledPrefix)+base64.StdEncoding.EncodedLen(len(payload)))
	buf = append(buf, udpProtocolHeader...)
	buf = append(buf, udpSampledPrefix...)
	buf = base64.StdEncoding.AppendEncode(buf, payload)
	if err := c.conn.SetWriteDeadline(time.Now().Add(udpWriteTimeout)); err != nil {
		return fmt.Errorf("xrayudp: %w", err)
	}
	if _, err := c.conn.WriteToUDP(buf, c.addr); err != nil {
		return fmt.Errorf("xrayudp: send %d bytes to %s: %w", len(buf), c.addr, err)
	}
	return nil
}

// splitSpans groups the spans of rss into requests of at most limit bytes
// each, keeping every span with its resource and scope, in order. A span
// that does not fit alone is trimmed (trimSpan).
func splitSpans(rss []*tracepb.ResourceSpans, limit int) [][]*tracepb.ResourceSpans {
	var (
		batches [][]*tracepb.ResourceSpans
		cur     []*tracepb.ResourceSpans
		size    int
	)
	flush := func() {
		if len(cur) > 0 {
			batches = append(batches, cur)
		}
		cur, size = nil, 0
	}
	// An entry's length prefix grows with what it holds; count it at the
	// size it has when the entry holds a whole datagram's worth.
	entry := func(n int) int { return 1 + protoVarintSize(limit) + n }
	for _, rs := range rss {
		rsOverhead := entry(proto.Size(&tracepb.ResourceSpans{Resource: rs.Resource, SchemaUrl: rs.SchemaUrl}))
		for _, ss := range rs.ScopeSpans {
			ssOverhead := entry(proto.Size(&tracepb.ScopeSpans{Scope: ss.Scope, SchemaUrl: ss.SchemaUrl}))
			for _, span := range ss.Spans {
				spanSize := fieldSize(proto.Size(span))
				if rsOverhead+ssOverhead+spanSize > limit {
					span = trimSpan(span, limit-rsOverhead-ssOverhead)
					spanSize = fieldSize(proto.Size(span))
				}
				// The overheads are counted again whenever a span opens a new
				// resource or scope entry in the current request.
				need := spanSize
				lastRS := len(cur) - 1
				newRS := lastRS < 0 || cur[lastRS].Resource != rs.Resource || cur[lastRS].SchemaUrl != rs.SchemaUrl
				var lastSS *tracepb.ScopeSpans
				if !newRS {
					lastSS = cur[lastRS].ScopeSpans[len(cur[lastRS].ScopeSpans)-1]
				}
				newSS := newRS || lastSS.Scope != ss.Scope || lastSS.SchemaUrl != ss.SchemaUrl
				if newRS {
					need += rsOverhead
				}
				if newSS {
					need += ssOverhead
				}
				if size+need > limit && len(cur) > 0 {
					flush()
					newRS, newSS = true, true
					need = rsOverhead + ssOverhead + spanSize
				}
				if newRS {
					cur = append(cur, &tracepb.ResourceSpans{Resource: rs.Resource, SchemaUrl: rs.SchemaUrl})
				}
				last := cur[len(cur)-1]
				if newSS {
					last.ScopeSpans = append(last.ScopeSpans, &tracepb.ScopeSpans{Scope: ss.Scope, SchemaUrl: ss.SchemaUrl})
				}
				scope := last.ScopeSpans[len(last.ScopeSpans)-1]
				scope.Spans = append(scope.Spans, span)
				size += need
			}
		}
	}
	flush()
	return batches
}

// trimSpan returns a copy of span made to fit in limit bytes, by this rule:
// drop its events, then its links, then cut each string attribute value to
// 1 KiB, then keep only its first 32 attributes; stop as soon as it fits.
// The dropped counts say what went, and the attribute otel.xrayudp.trimmed
// marks the span, so a trimmed span is never mistaken for a whole one.
func trimSpan(span *tracepb.Span, limit int) *tracepb.Span {
	s := proto.Clone(span).(*tracepb.Span)
	mark := &commonpb.KeyValue{Key: TrimmedAttribute, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: true}}}
	s.Attributes = append(s.Attributes, mark)
	fits := func() bool { return fieldSize(proto.Size(s)) <= limit }
	steps := []func(){
		func() { s.DroppedEventsCount += uint32(len(s.Events)); s.Events = nil },
		func() { s.DroppedLinksCount += uint32(len(s.Links)); s.Links = nil },
		func() {
			for _, kv := range s.Attributes {
				if v, ok := kv.Value.GetValue().(*commonpb.AnyValue_StringValue); ok && len(v.StringValue) > 1024 {
					v.StringValue = v.StringValue[:1024]
				}
			}
		},
		func() {
			if len(s.Attributes) > 32 {
				s.DroppedAttributesCount += uint32(len(s.Attributes) - 32)
				s.Attributes = append(s.Attributes[:31:31], mark)
			}
		},
	}
	for _, step := range steps {
		if fits() {
			break
		}
		step()
	}
	return s
}

// fieldSize is the size of an embedded message of n bytes: tag, length, body.
func fieldSize(n int) int {
	return 1 + protoVarintSize(n) + n
}

func protoVarintSize(n int) int {
	size := 1
	for n >= 0x80 {
		n >>= 7
		size++
	}
	return size
}

func countSpans(rss []*tracepb.ResourceSpans) int {
	n := 0
	for _, rs := range rss {
		for _, ss := range rs.ScopeSpans {
			n += len(ss.Spans)
		}
	}
	return n
}
