package faultcollector

import (
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest"
)

// Agent stands in for Lambda's X-Ray agent, as OTEL_TRACES_EXPORTER=xrayudp
// reaches it (AWS_XRAY_DAEMON_ADDRESS), with one fault of its own: nothing
// listening on its UDP port. Listening, it decodes each datagram
// (otelsetuptest.DecodeDatagram) and keeps the spans.
type Agent struct {
	addr string
	spans

	mu     sync.Mutex
	conn   *net.UDPConn // nil while not listening
	done   chan struct{}
	closed bool
}

// StartAgent reserves a loopback UDP port and listens on it if listening.
func StartAgent(listening bool) (*Agent, error) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("faultcollector: agent: %w", err)
	}
	a := &Agent{addr: conn.LocalAddr().String()}
	a.spans.init()
	a.listen(conn)
	if !listening {
		if err := a.SetListening(false); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Addr is the agent's host:port, for AWS_XRAY_DAEMON_ADDRESS.
func (a *Agent) Addr() string { return a.addr }

// SetListening starts or stops listening on the agent's port. Datagrams
// sent while it does not listen are lost: the kernel answers them with ICMP
// port unreachable, which xrayudp's connected socket sees only as the error
// of its next send, and sends again.
func (a *Agent) SetListening(on bool) error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return errors.New("faultcollector: agent closed")
	}
	conn, done := a.conn, a.done
	if !on {
		a.conn = nil
	}
	a.mu.Unlock()
	switch {
	case !on && conn != nil:
		_ = conn.Close()
		<-done
	case on && conn == nil:
		c, err := listenAgain("udp", a.addr)
		if err != nil {
			return err
		}
		a.listen(c.(*net.UDPConn))
	}
	return nil
}

func (a *Agent) listen(conn *net.UDPConn) {
	_ = conn.SetReadBuffer(8 << 20) // hold a burst of a thousand spans
	done := make(chan struct{})
	a.mu.Lock()
	a.conn, a.done = conn, done
	a.mu.Unlock()
	go func() {
		defer close(done)
		buf := make([]byte, 128<<10)
		for {
			n, _, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if req, _, err := otelsetuptest.DecodeDatagram(buf[:n]); err == nil {
				a.add(req)
			}
		}
	}()
}

// Close stops the agent.
func (a *Agent) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	conn, done := a.conn, a.done
	a.conn = nil
	a.mu.Unlock()
	if conn != nil {
		err := conn.Close()
		<-done
		return err
	}
	return nil
}
