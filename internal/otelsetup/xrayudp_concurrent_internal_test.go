package otelsetup

import (
	"context"
	"net"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// heldConn is a socket whose writes wait for release, counting how many
// are inside Write at once.
type heldConn struct {
	release chan struct{}

	mu      sync.Mutex
	writing int
	most    int
	written int
}

func (c *heldConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.writing++
	c.most = max(c.most, c.writing)
	c.mu.Unlock()
	<-c.release
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writing--
	c.written++
	return len(b), nil
}

func (c *heldConn) SetWriteDeadline(time.Time) error { return nil }
func (c *heldConn) Close() error                     { return nil }

// TestXRayUDPExportsInParallel: concurrent invocations' exports are inside
// the socket's write at once; the exporter holds no lock across a send,
// which would make each flush wait for the others' datagrams.
func TestXRayUDPExportsInParallel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		conn := &heldConn{release: make(chan struct{})}
		exp := &udpExporter{addr: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2000}, maxDatagram: MaxUDPDatagram, conn: conn}
		const flushes = 3
		var wg sync.WaitGroup
		for range flushes {
			wg.Go(func() {
				if err := exp.ExportSpans(context.Background(), stubs(1, 1, 2, 10)); err != nil {
					t.Errorf("ExportSpans() = %v", err)
				}
			})
		}
		synctest.Wait()
		conn.mu.Lock()
		most := conn.most
		conn.mu.Unlock()
		if most != flushes {
			t.Errorf("%d exports sending at once, want %d", most, flushes)
		}
		close(conn.release)
		wg.Wait()
		if conn.written != flushes {
			t.Errorf("%d datagrams sent, want %d", conn.written, flushes)
		}
		if err := exp.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := exp.ExportSpans(context.Background(), stubs(1, 1, 1, 1)); err == nil {
			t.Error("ExportSpans() after Shutdown = nil, want an error")
		}
	})
}
