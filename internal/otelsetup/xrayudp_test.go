package otelsetup_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest"
)

// manySpans is a handler that records n business steps.
func manySpans(n int, attrSize int) func(context.Context, events.SNSEvent) (string, error) {
	return func(ctx context.Context, _ events.SNSEvent) (string, error) {
		for i := range n {
			_ = otelsetup.Capture(ctx, fmt.Sprintf("step %d", i), func(ctx context.Context) error {
				otelsetup.PutMetadata(ctx, "payload", strings.Repeat("x", attrSize))
				return otelsetup.PutAnnotation(ctx, "index", i)
			})
		}
		return "done", nil
	}
}

func setupXRayUDP(t *testing.T, addr string) *otelsetup.Tracing {
	t.Helper()
	t.Setenv("OTEL_TRACES_EXPORTER", "xrayudp")
	t.Setenv("AWS_XRAY_DAEMON_ADDRESS", addr)
	tr, err := otelsetup.Setup(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	return tr
}

// TestXRayUDPDeliversEverySpan checks that the spans of an invocation, from
// one to a thousand, reach the agent whole before the handler returns, in
// datagrams of the agent's format that each fit the agent's limit.
func TestXRayUDPDeliversEverySpan(t *testing.T) {
	for _, n := range []int{1, 100, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			agent := otelsetuptest.StartXRayAgent(t)
			tr := setupXRayUDP(t, agent.Addr)
			invoke := otelsetup.Wrap(tr, manySpans(n-1, 100)) // plus the invocation span

			if _, err := invoke.Invoke(otelsetuptest.InvocationContext("req-1", ctxHeader), []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
			// Sent before the handler returned: in the agent's socket buffer.
			if got := agent.WaitForSpans(n, 5*time.Second); got != n {
				t.Fatalf("agent got %d spans, want %d", got, n)
			}
			sizes, errs := agent.Datagrams()
			if len(errs) > 0 {
				t.Fatalf("undecodable datagrams: %v", errs)
			}
			for _, s := range sizes {
				if s > otelsetup.MaxUDPDatagram {
					t.Errorf("datagram of %d bytes, over the %d limit", s, otelsetup.MaxUDPDatagram)
				}
			}
			seen := map[string]bool{}
			for _, s := range agent.Spans() {
				seen[s.Name] = true
			}
			for i := range n - 1 {
				if !seen[fmt.Sprintf("step %d", i)] {
					t.Fatalf("step %d is missing", i)
				}
			}
			t.Logf("%d spans in %d datagrams", n, len(sizes))
		})
	}
}

// TestXRayUDPTrimsASpanTooLargeForADatagram checks the trimming rule: a span
// that cannot fit arrives trimmed and marked, not lost.
func TestXRayUDPTrimsASpanTooLargeForADatagram(t *testing.T) {
	agent := otelsetuptest.StartXRayAgent(t)
	tr := setupXRayUDP(t, agent.Addr)
	invoke := otelsetup.Wrap(tr, manySpans(1, 200<<10))
	if _, err := invoke.Invoke(otelsetuptest.InvocationContext("req-1", ctxHeader), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if got := agent.WaitForSpans(2, 5*time.Second); got != 2 {
		t.Fatalf("agent got %d spans, want 2", got)
	}
	for _, s := range agent.Spans() {
		if s.Name != "step 0" {
			continue
		}
		attrs := map[string]string{}
		for _, kv := range s.Attributes {
			attrs[kv.Key] = kv.Value.String()
		}
		if !strings.Contains(attrs[otelsetup.TrimmedAttribute], "true") {
			t.Errorf("the trimmed span is not marked %s: %v", otelsetup.TrimmedAttribute, attrs)
		}
		if len(attrs["payload"]) > 2048 {
			t.Errorf("payload kept %d bytes, want it cut to 1 KiB", len(attrs["payload"]))
		}
		if !strings.Contains(attrs["index"], "0") {
			t.Errorf("the annotation index was lost in trimming: %v", attrs)
		}
		return
	}
	t.Fatal("the large span did not arrive")
}

// TestXRayUDPNeverFailsTheInvocation sends to a port where nothing listens
// and to an agent that never reads (its socket buffer fills at once): the
// invocation succeeds either way, within the flush bound.
func TestXRayUDPNeverFailsTheInvocation(t *testing.T) {
	dead, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.LocalAddr().String()
	_ = dead.Close() // nothing listens there now

	stuck, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	_ = stuck.SetReadBuffer(1024) // never read: full after the first datagram

	for name, addr := range map[string]string{"dead port": deadAddr, "full buffer": stuck.LocalAddr().String()} {
		t.Run(name, func(t *testing.T) {
			captureErrors(t)
			tr := setupXRayUDP(t, addr)
			invoke := otelsetup.Wrap(tr, manySpans(999, 100))
			for i := range 3 { // a dead port answers ICMP; later sends must not fail
				start := time.Now()
				out, err := otelsetuptest.Invoke[string](t, otelsetuptest.InvocationContext(fmt.Sprint("req-", i), ctxHeader), invoke, []byte(`{}`))
				if err != nil || out != "done" {
					t.Fatalf("invocation %d = %q, %v; want done, nil", i, out, err)
				}
				if d := time.Since(start); d > 5*time.Second {
					t.Errorf("invocation %d took %v: sending must not wait on the agent", i, d)
				}
			}
		})
	}
}

func TestDaemonAddress(t *testing.T) {
	agent := otelsetuptest.StartXRayAgent(t)
	_, port, _ := net.SplitHostPort(agent.Addr)
	tests := []struct {
		value   string
		wantErr bool
	}{
		{agent.Addr, false},
		{"tcp:127.0.0.1:" + port + " udp:" + agent.Addr, false},
		{"udp:" + agent.Addr + " tcp:127.0.0.1:" + port, false},
		{"tcp:127.0.0.1:2000", true},
		{"not an address", true},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			t.Setenv("OTEL_TRACES_EXPORTER", "xrayudp")
			t.Setenv("AWS_XRAY_DAEMON_ADDRESS", tt.value)
			tr, err := otelsetup.Setup(context.Background())
			if (err != nil) != tt.wantErr {
				t.Fatalf("Setup error = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			defer func() { _ = tr.Shutdown(context.Background()) }()
			before := len(agent.Spans())
			if _, err := otelsetup.Wrap(tr, okHandler).Invoke(otelsetuptest.InvocationContext("r", ctxHeader), []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
			if got := agent.WaitForSpans(before+1, 5*time.Second); got != before+1 {
				t.Errorf("the span did not reach %s", tt.value)
			}
		})
	}
}

// TestXRayUDPReportsASpanItCannotSend: a span whose name alone is over the
// limit cannot be trimmed to fit; it is dropped with an error to the error
// handler, never silently, and the invocation and the other spans go on.
func TestXRayUDPReportsASpanItCannotSend(t *testing.T) {
	agent := otelsetuptest.StartXRayAgent(t)
	seen := captureErrors(t)
	tr := setupXRayUDP(t, agent.Addr)
	invoke := otelsetup.Wrap(tr, func(ctx context.Context, _ events.SNSEvent) (string, error) {
		return "done", otelsetup.Capture(ctx, strings.Repeat("n", 100<<10), func(context.Context) error { return nil })
	})
	if _, err := invoke.Invoke(otelsetuptest.InvocationContext("req-1", ctxHeader), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if got := agent.WaitForSpans(1, 5*time.Second); got != 1 {
		t.Errorf("agent got %d spans, want the invocation span", got)
	}
	errs := seen.all()
	if len(errs) == 0 || !strings.Contains(fmt.Sprint(errs), "do not fit in a datagram") {
		t.Errorf("error handler got %v, want the dropped span reported", errs)
	}
}
