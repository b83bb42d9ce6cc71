package otelsetup

import (
	"context"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// DefaultOTLPEndpoint is where spans go when no OTEL_EXPORTER_OTLP_ENDPOINT
// is set: the OTLP/HTTP receiver of the ADOT collector layer's extension.
const DefaultOTLPEndpoint = "http://localhost:4318"

const defaultOTLPGRPCEndpoint = "localhost:4317"

// exportersFromEnv builds the exporters that OTEL_TRACES_EXPORTER names
// (a comma-separated list; otlp when unset). An empty list means none.
// xrayudp sends to Lambda's X-Ray agent at AWS_XRAY_DAEMON_ADDRESS, with no
// collector layer (see xrayudp.go).
//
// The OTLP exporters read their own OTEL_EXPORTER_OTLP_* variables. Without an
// endpoint they send to the ADOT collector extension: http://localhost:4318
// or localhost:4317 (gRPC), in plain text. (The Go exporters would otherwise
// try TLS to localhost, which the extension does not speak.)
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
			e, err = newXRayUDPExporter(ctx, getenv)
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
// HTTP/protobuf is the default because it is cheaper on a Lambda cold start:
// it reuses net/http, which the function links anyway, and sends its first
// batch with one plain request, while a gRPC client must set up an HTTP/2
// connection and its own machinery before the first export, on the
// invocation's clock. The collector extension accepts both.
func otlpExporter(ctx context.Context, getenv func(string) string) (sdktrace.SpanExporter, error) {
	protocol := getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if protocol == "" {
		protocol = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	endpointSet := getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	switch protocol {
	case "", "http/protobuf":
		if endpointSet {
			return otlptracehttp.New(ctx)
		}
		return otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(DefaultOTLPEndpoint+"/v1/traces"))
	case "grpc":
		if endpointSet {
			return otlptracegrpc.New(ctx)
		}
		return otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(defaultOTLPGRPCEndpoint), otlptracegrpc.WithInsecure())
	}
	return nil, fmt.Errorf("OTLP protocol %q: want http/protobuf or grpc (http/json is not supported by the Go exporter)", protocol)
}
