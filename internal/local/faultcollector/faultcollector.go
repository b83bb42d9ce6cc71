// Package faultcollector stands in for a collector on a bad day: an OTLP/HTTP
// receiver on a loopback port that fails in one of the ways a real one does
// (nothing listening, a hang, 500, 429 with Retry-After, reset connections,
// a slow answer), and a stand-in for Lambda's X-Ray agent that may not be
// listening. Each can be switched back to healthy while a function runs, and
// then decodes what it receives, so that a test or the benchmark can check
// that the spans of later invocations arrive.
//
// The fault tests (test/faults) and the benchmark's fault table
// (bench/cmd/lambdabench) both run the functions' real bootstraps against
// it, so that what the table measures is what the tests prove.
package faultcollector

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"syscall"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Fault is how the collector answers an export.
type Fault string

// The faults, and the healthy collector. Each is what a collector extension
// under strain, crashed or restarting does to the function's flush.
const (
	// Healthy answers 200 with an empty ExportTraceServiceResponse and keeps
	// the spans.
	Healthy Fault = "healthy"
	// Down has nothing listening on the port: each connection is refused
	// (the extension has crashed, or not started yet).
	Down Fault = "nothing listening"
	// Hang accepts the connection, reads the request and never answers.
	Hang Fault = "accepts, never answers"
	// ServerError answers 500 Internal Server Error.
	ServerError Fault = "answers 500"
	// Throttled answers 429 Too Many Requests with Retry-After: 1.
	Throttled Fault = "answers 429, Retry-After: 1 s"
	// Reset reads the request and resets the connection (RST, no answer).
	Reset Fault = "resets connections"
	// Slow answers 200 after SlowDelay.
	Slow Fault = "answers after 2 s"
)

// Faults are the collector faults, in the order tests and tables list them.
var Faults = []Fault{Down, Hang, ServerError, Throttled, Reset, Slow}

// SlowDelay is how long a Slow collector takes to answer: twice otelsetup's
// flush bound, so that the flush gives up first.
const SlowDelay = 2 * time.Second

// RetryAfterSeconds is the Retry-After of a Throttled collector's answers.
const RetryAfterSeconds = 1

// Collector is an OTLP/HTTP trace receiver on a loopback port whose Fault
// can change at any time. Its port stays the same across faults, Down
// included, so that a function configured once reaches it again.
type Collector struct {
	addr string
	spans

	mu    sync.Mutex
	fault Fault
	srv   *http.Server  // nil while Down
	done  chan struct{} // closed when the current server has stopped serving
	// release is closed when the fault changes: it frees the handlers that
	// hang or wait under the old one.
	release  chan struct{}
	received map[Fault]int
	closed   bool
}

// Start listens on a free loopback port with fault f.
func Start(f Fault) (*Collector, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultcollector: %w", err)
	}
	c := &Collector{addr: ln.Addr().String(), fault: Healthy, release: make(chan struct{}), received: map[Fault]int{}}
	c.spans.init()
	c.serve(ln)
	if err := c.Set(f); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// Endpoint is the base URL for OTEL_EXPORTER_OTLP_ENDPOINT.
func (c *Collector) Endpoint() string { return "http://" + c.addr }

// Addr is the collector's host:port.
func (c *Collector) Addr() string { return c.addr }

// Fault returns the collector's current fault.
func (c *Collector) Fault() Fault {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fault
}

// Set switches the collector to fault f. Leaving Down listens again on the
// same port; entering it closes the listener and every open connection, as
// a crashed extension leaves none. Requests waiting under the old fault are
// let go (they end without an answer).
func (c *Collector) Set(f Fault) error {
	if !slices.Contains(Faults, f) && f != Healthy {
		return fmt.Errorf("faultcollector: unknown fault %q", f)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errors.New("faultcollector: closed")
	}
	old := c.fault
	c.fault = f
	close(c.release)
	c.release = make(chan struct{})
	srv, done := c.srv, c.done
	if f == Down {
		c.srv = nil
	}
	c.mu.Unlock()

	switch {
	case f == Down && srv != nil:
		_ = srv.Close()
		<-done
	case old == Down && f != Down:
		ln, err := listenAgain("tcp", c.addr)
		if err != nil {
			return err
		}
		c.serve(ln.(net.Listener))
	}
	return nil
}

// listenAgain binds addr again. The port was the collector's a moment ago,
// but another process may take a free port meanwhile (the kernel hands out
// ephemeral ports from the same range), so it tries for a while.
func listenAgain(network, addr string) (io.Closer, error) {
	var err error
	for range 50 {
		var c io.Closer
		if network == "udp" {
			var ua *net.UDPAddr
			if ua, err = net.ResolveUDPAddr("udp", addr); err == nil {
				c, err = net.ListenUDP("udp", ua)
			}
		} else {
			c, err = net.Listen(network, addr)
		}
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, fmt.Errorf("faultcollector: listen on %s again: %w", addr, err)
}

func (c *Collector) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(c.handle), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	c.mu.Lock()
	c.srv, c.done = srv, done
	c.mu.Unlock()
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
}

// Received returns how many export requests reached the collector while it
// had fault f.
func (c *Collector) Received(f Fault) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.received[f]
}

// Close stops the collector and frees its port.
func (c *Collector) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.release)
	srv, done := c.srv, c.done
	c.srv = nil
	c.mu.Unlock()
	if srv != nil {
		err := srv.Close()
		<-done
		return err
	}
	return nil
}

func (c *Collector) handle(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	c.mu.Lock()
	fault, release := c.fault, c.release
	c.received[fault]++
	c.mu.Unlock()
	if err != nil {
		return // the exporter went away mid-request
	}
	switch fault {
	case Hang:
		select {
		case <-r.Context().Done():
		case <-release:
		}
		// End the connection without a word, as a hung process that is
		// killed does.
		panic(http.ErrAbortHandler)
	case ServerError:
		http.Error(w, "collector failure (faultcollector)", http.StatusInternalServerError)
		return
	case Throttled:
		w.Header().Set("Retry-After", fmt.Sprint(RetryAfterSeconds))
		http.Error(w, "too many requests (faultcollector)", http.StatusTooManyRequests)
		return
	case Reset:
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		if tcp, ok := conn.(*net.TCPConn); ok {
			// Linger 0: close sends RST instead of FIN.
			_ = tcp.SetLinger(0)
		}
		_ = conn.Close()
		return
	case Slow:
		t := time.NewTimer(SlowDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return // the exporter gave up first: no one to answer
		case <-release:
			panic(http.ErrAbortHandler) // let go without an answer, as Set says
		}
	}
	if r.URL.Path != "/v1/traces" || r.Method != http.MethodPost {
		http.Error(w, "want POST /v1/traces", http.StatusNotFound)
		return
	}
	if err := c.keep(body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

// spans keeps every span received whole, and wakes those who wait for one.
type spans struct {
	mu      sync.Mutex
	all     []*tracepb.Span
	changed chan struct{}
}

func (s *spans) init() { s.changed = make(chan struct{}) }

// keep decodes an OTLP ExportTraceServiceRequest and keeps its spans.
func (s *spans) keep(payload []byte) error {
	req := &coltracepb.ExportTraceServiceRequest{}
	if err := proto.Unmarshal(payload, req); err != nil {
		return fmt.Errorf("not an OTLP trace request: %w", err)
	}
	s.add(req)
	return nil
}

func (s *spans) add(req *coltracepb.ExportTraceServiceRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			s.all = append(s.all, ss.Spans...)
		}
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// Spans returns every span received so far, in order.
func (s *spans) Spans() []*tracepb.Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.all)
}

// WaitForTrace waits until at least one span of the trace with the X-Ray
// trace ID id (1-xxxxxxxx-yyyyyyyyyyyyyyyyyyyyyyyy) has arrived, and returns
// the trace's spans received by then.
func (s *spans) WaitForTrace(ctx context.Context, id string) ([]*tracepb.Span, error) {
	want, err := otlpTraceID(id)
	if err != nil {
		return nil, err
	}
	for {
		s.mu.Lock()
		var found []*tracepb.Span
		for _, sp := range s.all {
			if bytes.Equal(sp.TraceId, want) {
				found = append(found, sp)
			}
		}
		changed := s.changed
		s.mu.Unlock()
		if len(found) > 0 {
			return found, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("faultcollector: no span of trace %s: %w", id, ctx.Err())
		}
	}
}

// otlpTraceID turns an X-Ray trace ID into the 16 bytes OTLP carries.
func otlpTraceID(id string) ([]byte, error) {
	var epoch, unique string
	if len(id) == 35 && id[:2] == "1-" && id[10] == '-' {
		epoch, unique = id[2:10], id[11:]
	}
	b, err := hex.DecodeString(epoch + unique)
	if err != nil || len(b) != 16 {
		return nil, fmt.Errorf("faultcollector: %q is not an X-Ray trace ID", id)
	}
	return b, nil
}
