package otelsetup

import (
	"context"
	"fmt"
	"os"
	"strings"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// DefaultOTLPEndpoint is where spans go when no OTEL_EXPORTER_OTLP_ENDPOINT
// is set: the OTLP/HTTP receiver of the ADOT collector layer's extension.
const DefaultOTLPEndpoint = "http://localhost:4318"

// exportersFromEnv builds the exporters that OTEL_TRACES_EXPORTER names
// (a comma-separated list; otlp when unset). An empty list means none.
// xrayudp sends to Lambda's X-Ray agent at AWS_XRAY_DAEMON_ADDRESS, with no
// collector layer (see xrayudp.go).
//
// The OTLP exporters read the OTEL_EXPORTER_OTLP_* variables. Without an
// endpoint they send to the ADOT collector extension: http://localhost:4318
// or localhost:4317 (gRPC), in plain text. (The upstream Go exporters would
// otherwise try TLS to localhost, which the extension does not speak.)
func exportersFromEnv(ctx context.Context, getenv func(string) string) ([]sdktrace.SpanExporter, error) {
	names := getenv("OTEL_TRACES_EXPORTER")
	if names == "" {
		names = "otlp"
	}
	var exporters []sdktrace.SpanExporter
	for name := range strings.SplitSeq(names, ",") {
		var (
			e   sdktrace.SpanExporter
			err error
		)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "none":
			continue
		case "otlp":
			e, err = otlpExporter(ctx, getenv)
		case "console":
			e = newConsoleExporter(os.Stdout)
		case "xrayudp":
			e, err = newXRayUDPExporter(getenv)
		default:
			return nil, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: %q is not one of otlp, xrayudp, console, none", names, name)
		}
		if err != nil {
			return nil, fmt.Errorf("exporter %s: %w", name, err)
		}
		exporters = append(exporters, e)
	}
	return exporters, nil
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
