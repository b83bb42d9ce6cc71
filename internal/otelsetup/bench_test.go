package otelsetup_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest"
)

// BenchmarkInvocation measures one wrapped invocation, flush included, for
// each export path side by side: no export, OTLP/HTTP to a collector on
// loopback (as to the layer's extension), and UDP to the X-Ray agent.
//
//	go test -run '^$' -bench Invocation -benchmem ./internal/otelsetup/
func BenchmarkInvocation(b *testing.B) {
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	// The agent discards what it reads, as the collector does: decoding
	// and keeping the datagrams (otelsetuptest.XRayAgent) would count the
	// receiver's allocations as the exporter's.
	agent, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer agent.Close()
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if _, _, err := agent.ReadFromUDP(buf); err != nil {
				return
			}
		}
	}()

	paths := []struct {
		name string
		env  map[string]string
	}{
		{"none", map[string]string{"OTEL_TRACES_EXPORTER": "none"}},
		{"otlphttp", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL}},
		{"xrayudp", map[string]string{"OTEL_TRACES_EXPORTER": "xrayudp", "AWS_XRAY_DAEMON_ADDRESS": agent.LocalAddr().String()}},
	}
	for _, spans := range []int{5, 1000} {
		for _, p := range paths {
			b.Run(fmt.Sprintf("spans=%d/%s", spans, p.name), func(b *testing.B) {
				for k, v := range p.env {
					b.Setenv(k, v)
				}
				tr, err := otelsetup.Setup(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				defer func() { _ = tr.Shutdown(context.Background()) }()
				invoke := otelsetup.Wrap(tr, func(ctx context.Context, _ events.SNSEvent) (string, error) {
					for range spans - 1 {
						_ = otelsetup.Capture(ctx, "step", func(ctx context.Context) error {
							return otelsetup.PutAnnotation(ctx, "path", "/orders/42")
						})
					}
					return "done", nil
				})
				ctx := otelsetuptest.InvocationContext("req", ctxHeader)
				payload := []byte(`{"Records":[]}`)
				b.ReportAllocs()
				cpu := cpuTime(b)
				for b.Loop() {
					if _, err := invoke.Invoke(ctx, payload); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(cpuTime(b)-cpu)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}
