package otelsetup

import (
	"context"
	"fmt"
	"io"
	"strings"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// DefaultOTLPEndpoint is where spans go when no OTEL_EXPORTER_OTLP_ENDPOINT
// is set: the OTLP/HTTP receiver of the ADOT collector layer's extension.
const DefaultOTLPEndpoint = "http://localhost:4318"

// processorsFromEnv builds a span processor for each exporter that
// OTEL_TRACES_EXPORTER names (a comma-separated list; otlp when unset). An
// empty list means none. xrayudp sends to Lambda's X-Ray agent at
// AWS_XRAY_DAEMON_ADDRESS, with no collector layer (see xrayudp.go). Each
// exporter gets the invocation processor (processor.go), which exports at the
// invocation's flush, except console, which writes each span to stdout as it
// ends (console.go).
//
// The OTLP exporters read the OTEL_EXPORTER_OTLP_* variables. Without an
// endpoint they send to the ADOT collector extension: http://localhost:4318
// or localhost:4317 (gRPC), in plain text. (The upstream Go exporters would
// otherwise try TLS to localhost, which the extension does not speak.)
func processorsFromEnv(ctx context.Context, getenv func(string) string, stdout io.Writer) ([]sdktrace.SpanProcessor, error) {
	names := getenv("OTEL_TRACES_EXPORTER")
	if names == "" {
		names = "otlp"
	}
	var processors []sdktrace.SpanProcessor
	for name := range strings.SplitSeq(names, ",") {
		var (
			e   sdktrace.SpanExporter
			p   sdktrace.SpanProcessor
			err error
		)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "none":
			continue
		case "otlp":
			e, err = otlpExporter(ctx, getenv)
		case "console":
			p, err = newConsoleProcessor(stdout)
		case "xrayudp":
			e, err = newXRayUDPExporter(getenv)
		default:
			return nil, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: %q is not one of otlp, xrayudp, console, none", names, name)
		}
		if err != nil {
			return nil, fmt.Errorf("exporter %s: %w", name, err)
		}
		if p == nil {
			p = newInvocationProcessor(e)
		}
		processors = append(processors, p)
	}
	return processors, nil
}

// otlpExporter builds the OTLP exporter for the protocol that
// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL names.
//
// HTTP/protobuf is the default, and the only protocol of a default build:
// it reuses net/http, which the function links anyway, and sends each batch
// with one plain request, while a gRPC client must set up an HTTP/2
// connection and its own machinery before the first export, on the
// invocation's clock, and links gRPC (megabytes of binary, a millisecond of
// init). The collector extension accepts both; build with -tags otlpgrpc
// for gRPC (exporter_grpc.go).
func otlpExporter(ctx context.Context, getenv func(string) string) (sdktrace.SpanExporter, error) {
	protocol := getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if protocol == "" {
		protocol = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	switch protocol {
	case "", "http/protobuf":
		return newOTLPHTTPExporter(getenv)
	case "grpc":
		return grpcExporter(ctx, getenv)
	}
	return nil, fmt.Errorf("OTLP protocol %q: want http/protobuf or grpc (http/json is not supported)", protocol)
}
