package otelsetup

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/protobuf/encoding/protowire"
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

// newXRayUDPExporter is the exporter OTEL_TRACES_EXPORTER=xrayudp selects:
// OTLP spans as UDP datagrams to the X-Ray agent that Lambda runs in every
// sandbox with active tracing, so no collector layer is needed. Spans are
// encoded as the OTLP/HTTP exporter encodes them (otlpproto.go).
func newXRayUDPExporter(getenv func(string) string) (*udpExporter, error) {
	addr, err := daemonAddress(getenv("AWS_XRAY_DAEMON_ADDRESS"))
	if err != nil {
		return nil, err
	}
	// A connected socket, as the X-Ray SDKs use: the kernel looks the
	// route up once, not at every send (8% of an invocation's CPU in
	// BenchmarkUDPInvocation). No packet is sent by connecting.
	conn, err := net.DialUDP("udp", nil, addr)
	if err != nil {
		return nil, fmt.Errorf("xrayudp: open socket to %s: %w", addr, err)
	}
	return &udpExporter{addr: addr, maxDatagram: MaxUDPDatagram, conn: conn}, nil
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

// udpExporter sends each export as one or more datagrams, none larger
// than maxDatagram. Concurrent invocations' flushes export at once
// (AWS_LAMBDA_MAX_CONCURRENCY > 1): mu guards only the socket's field, never
// an encoding or a send, since a UDP socket takes concurrent writes, each
// datagram whole.
type udpExporter struct {
	addr        net.Addr
	maxDatagram int

	mu   sync.Mutex
	conn datagramConn // nil once shut down

	// scratch holds *udpScratch: a datagram is copied into the socket's
	// buffer by the send, so an export's buffers are free again once it
	// returns, and the next export (the next invocation's flush) reuses
	// them. Fresh ones on every flush were a quarter of the bytes an
	// invocation allocated (BenchmarkUDPInvocation).
	scratch sync.Pool
}

// datagramConn is the exporter's socket: a *net.UDPConn connected to the
// agent, or a test's stand-in.
type datagramConn interface {
	Write(b []byte) (int, error)
	SetWriteDeadline(t time.Time) error
	Close() error
}

// udpScratch is the space one export works in.
type udpScratch struct {
	spans    []encodedSpan
	encoded  []byte // the spans' bodies
	payload  []byte // a request
	datagram []byte
}

// maxPooledScratch bounds what a pooled udpScratch keeps: room for a few
// datagrams, not what a flush of thousands of spans grew to.
const maxPooledScratch = 256 << 10

func (e *udpExporter) getScratch() *udpScratch {
	if s, ok := e.scratch.Get().(*udpScratch); ok {
		return s
	}
	return &udpScratch{}
}

func (e *udpExporter) putScratch(s *udpScratch) {
	if cap(s.encoded) > maxPooledScratch || cap(s.payload) > maxPooledScratch {
		return
	}
	clear(s.spans) // the spans themselves are not to be kept alive
	e.scratch.Put(s)
}

func (e *udpExporter) Shutdown(context.Context) error {
	e.mu.Lock()
	conn := e.conn
	e.conn = nil
	e.mu.Unlock()
	if conn == nil {
		return nil
	}
	// An export still sending gets net.ErrClosed, an error it reports.
	return conn.Close()
}

// returnsWhenContextEnds: a send waits udpWriteTimeout at most, and the
// context is checked after each (contextBound).
func (*udpExporter) returnsWhenContextEnds() {}

// maxPayload is the largest protobuf request whose datagram fits.
func (e *udpExporter) maxPayload() int {
	return (e.maxDatagram - len(udpProtocolHeader) - len(udpSampledPrefix)) / 4 * 3
}

func (e *udpExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.mu.Lock()
	conn := e.conn
	e.mu.Unlock()
	if conn == nil {
		return errors.New("xrayudp: exporter is shut down")
	}
	scratch := e.getScratch()
	defer e.putScratch(scratch)
	encoded, bodies := encodeSpansInto(scratch.spans, scratch.encoded, spans)
	scratch.spans, scratch.encoded = encoded, bodies
	// An invocation's spans usually fit in one datagram: then the request
	// is built once, and splitSpans's accounting (the size of every
	// resource and scope entry, computed anew on every export) is skipped.
	groups := group(encoded)
	scratch.payload = appendRequest(slices.Grow(scratch.payload[:0], requestSizeHint(groups)), groups)
	if len(scratch.payload) <= e.maxPayload() {
		return e.send(conn, scratch)
	}
	batches, dropped := splitSpans(encoded, e.maxPayload())
	var errs []error
	if dropped > 0 {
		// Only a span trimmed to nothing more can come here: its name or
		// resource alone is too large.
		errs = append(errs, fmt.Errorf("xrayudp: dropped %d spans that do not fit in a datagram even trimmed", dropped))
	}
	for _, batch := range batches {
		groups := group(batch)
		scratch.payload = appendRequest(slices.Grow(scratch.payload[:0], requestSizeHint(groups)), groups)
		if err := e.send(conn, scratch); err != nil {
			errs = append(errs, err)
		}
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
	}
	return errors.Join(errs...)
}

// send writes the request in s.payload as one datagram, built in
// s.datagram.
func (e *udpExporter) send(conn datagramConn, s *udpScratch) error {
	buf := slices.Grow(s.datagram[:0], len(udpProtocolHeader)+len(udpSampledPrefix)+base64.StdEncoding.EncodedLen(len(s.payload)))
	buf = append(buf, udpProtocolHeader...)
	buf = append(buf, udpSampledPrefix...)
	buf = base64.StdEncoding.AppendEncode(buf, s.payload)
	s.datagram = buf
	// The deadline is the socket's, shared by concurrent sends: each moves
	// it to its own start plus the timeout, so none waits much longer.
	if err := conn.SetWriteDeadline(time.Now().Add(udpWriteTimeout)); err != nil {
		return fmt.Errorf("xrayudp: %w", err)
	}
	_, err := conn.Write(buf)
	if errors.Is(err, syscall.ECONNREFUSED) {
		// A datagram sent while nothing listened at the agent's port came
		// back as ICMP port unreachable, which Linux keeps for a connected
		// UDP socket (net/ipv4/udp.c, __udp4_lib_err) and reports as the
		// error of its next send, that send then not made. The report is
		// consumed with it: once more is the send itself, so an agent
		// that came back loses nothing more
		// (TestXRayUDPAgentComesBack).
		_, err = conn.Write(buf)
	}
	if err != nil {
		return fmt.Errorf("xrayudp: send %d bytes to %s: %w", len(buf), e.addr, err)
	}
	return nil
}

// splitSpans groups spans into requests of at most limit bytes each, in
// order. A span that does not fit alone is trimmed (trim) until it does;
// one that never fits is counted as dropped.
//
// A request's size is bounded from above: each span's field, plus the
// entries of its resource and scope when the request has none for them yet,
// each counted with a length prefix as long as a whole request's.
func splitSpans(spans []encodedSpan, limit int) (batches [][]encodedSpan, dropped int) {
	overheads := map[groupKey][2]int{} // resource entry, scope entry
	overhead := func(s sdktrace.ReadOnlySpan) (groupKey, [2]int) {
		key := keyOf(s)
		if o, ok := overheads[key]; ok {
			return key, o
		}
		var rb, sb []byte
		if res := s.Resource(); res != nil {
			rb = appendAttributes(nil, fResourceAttributes, res.Attributes(), 0)
			rb = appendString(appendBytes(nil, fResourceSpansResource, rb), fResourceSpansSchemaURL, res.SchemaURL())
		}
		scope := s.InstrumentationScope()
		sb = appendString(appendString(nil, fScopeName, scope.Name), fScopeVersion, scope.Version)
		sb = appendAttributes(sb, fScopeAttributes, scope.Attributes.ToSlice(), 0)
		sb = appendString(appendBytes(nil, fScopeSpansScope, sb), fScopeSpansSchemaURL, scope.SchemaURL)
		o := [2]int{entrySize(len(rb), limit), entrySize(len(sb), limit)}
		overheads[key] = o
		return key, o
	}

	var (
		cur       []encodedSpan
		size      int
		resources = map[resourceKey]bool{}
		scopes    = map[groupKey]bool{}
	)
	for _, s := range spans {
		key, o := overhead(s.span)
		s = trim(s, limit-o[0]-o[1])
		spanSize := fieldSize(len(s.body))
		if spanSize+o[0]+o[1] > limit {
			dropped++
			continue
		}
		need := spanSize
		if !resources[key.resourceKey] {
			need += o[0]
		}
		if !scopes[key] {
			need += o[1]
		}
		if size+need > limit && len(cur) > 0 {
			batches = append(batches, cur)
			cur, size = nil, 0
			clear(resources)
			clear(scopes)
			need = spanSize + o[0] + o[1]
		}
		cur = append(cur, s)
		resources[key.resourceKey], scopes[key] = true, true
		size += need
	}
	if len(cur) > 0 {
		batches = append(batches, cur)
	}
	return batches, dropped
}

// entrySize is the size of an entry holding n bytes of its own, its length
// prefix counted as long as that of an entry of limit bytes.
func entrySize(n, limit int) int {
	return 1 + protowire.SizeVarint(uint64(limit)) + n
}

// fieldSize is the size of an embedded message of n bytes: tag, length, body.
func fieldSize(n int) int {
	return 1 + protowire.SizeVarint(uint64(n)) + n
}
