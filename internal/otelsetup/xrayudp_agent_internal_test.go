package otelsetup

import (
	"context"
	"net"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// TestXRayUDPAgentComesBack: exports while the agent is away are lost
// without an error (UDP has no answer to wait for), and once it listens
// again every export reaches it, the first one included: the connected
// socket's report of the ICMP port unreachable is not taken for a failure
// of that export.
func TestXRayUDPAgentComesBack(t *testing.T) {
	agent, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := agent.LocalAddr().(*net.UDPAddr)
	exp, err := newXRayUDPExporter(func(k string) string {
		if k == "AWS_XRAY_DAEMON_ADDRESS" {
			return addr.String()
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Shutdown(context.Background())
	spans := []sdktrace.ReadOnlySpan{stubs(1, 1, 1, 10)[0]}
	ctx := context.Background()

	// Away: each export finds the port closed; the kernel's ICMP answer
	// comes back within the pause.
	agent.Close()
	for i := range 3 {
		if err := exp.ExportSpans(ctx, spans); err != nil {
			t.Fatalf("export %d while the agent is away: %v", i, err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Back, on the same port.
	agent, err = net.ListenUDP("udp", addr)
	if err != nil {
		t.Skipf("the agent's port was taken meanwhile: %v", err)
	}
	defer agent.Close()
	const exports = 3
	for i := range exports {
		if err := exp.ExportSpans(ctx, spans); err != nil {
			t.Fatalf("export %d once the agent is back: %v", i, err)
		}
	}
	buf := make([]byte, 64<<10)
	for i := range exports {
		_ = agent.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, _, err := agent.ReadFromUDP(buf); err != nil {
			t.Fatalf("datagram %d of %d once the agent is back: %v", i+1, exports, err)
		}
	}
}
