package hotpath

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-xray-sdk-go/v2/xray"
	"github.com/aws/aws-xray-sdk-go/v2/xraylog"

	"github.com/xray-tracer/xray-tracer/bench/internal/work"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest"
)

// BenchmarkUDPInvocation is one whole invocation of the benchmark's handler
// (bench/internal/work, 5 spans) as the variants (d) and (g) of
// `make bench` run it, minus the Runtime API: decoding the event, the spans
// and their annotations, and the datagram to the X-Ray agent, for
// otelsetup's xrayudp exporter (impl=otelsetup) and the X-Ray SDK for Go
// (impl=xraysdk). The agent is a UDP socket on loopback that discards what
// it reads, so that only the sender's work is counted.
func BenchmarkUDPInvocation(b *testing.B) {
	agent := discardingAgent(b)
	ctx := otelsetuptest.InvocationContext("bench", header)
	event := json.RawMessage(`{"spans":5}`)

	b.Run("impl=otelsetup", func(b *testing.B) {
		b.Setenv("OTEL_TRACES_EXPORTER", "xrayudp")
		b.Setenv("AWS_XRAY_DAEMON_ADDRESS", agent)
		tr, err := otelsetup.Setup(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
		step := func(ctx context.Context, name string, fn func(context.Context) error) error {
			return otelsetup.Capture(ctx, name, func(ctx context.Context) error {
				_ = otelsetup.PutAnnotation(ctx, "step", name)
				return fn(ctx)
			})
		}
		invoke := otelsetup.Wrap(tr, func(ctx context.Context, ev work.Event) (work.Result, error) {
			return work.Handle(ctx, ev, nil, step)
		})
		b.ReportAllocs()
		for b.Loop() {
			if _, err := invoke.Invoke(ctx, event); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("impl=xraysdk", func(b *testing.B) {
		// The SDK makes a facade segment of the invocation's trace header
		// only where Lambda's task root is set.
		b.Setenv("LAMBDA_TASK_ROOT", b.TempDir())
		// Its log line about the emitter's address would cut go test's.
		xray.SetLogger(xraylog.NewDefaultLogger(io.Discard, xraylog.LogLevelError))
		if err := xray.Configure(xray.Config{DaemonAddr: agent}); err != nil {
			b.Fatal(err)
		}
		step := func(ctx context.Context, name string, fn func(context.Context) error) error {
			return xray.Capture(ctx, name, func(ctx context.Context) error {
				_ = xray.AddAnnotation(ctx, "step", name)
				return fn(ctx)
			})
		}
		// As bench/functions/xraysdk: the invocation is one subsegment
		// with the two annotations otelsetup's wrapper adds.
		invoke := lambda.NewHandler(func(ctx context.Context, ev work.Event) (res work.Result, err error) {
			err = xray.Capture(ctx, "## handler", func(ctx context.Context) error {
				_ = xray.AddAnnotation(ctx, "ColdStart", false)
				_ = xray.AddAnnotation(ctx, "Service", "bench")
				res, err = work.Handle(ctx, ev, nil, step)
				return err
			})
			return res, err
		})
		b.ReportAllocs()
		for b.Loop() {
			if _, err := invoke.Invoke(ctx, event); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// discardingAgent listens on a loopback UDP port for as long as the
// benchmark runs, reading and dropping every datagram, and says where.
func discardingAgent(b *testing.B) string {
	b.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if _, _, err := conn.ReadFromUDP(buf); err != nil {
				return
			}
		}
	}()
	return conn.LocalAddr().String()
}
