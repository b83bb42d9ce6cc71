//go:build otlpgrpc

package otelsetup

import (
	"context"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// defaultOTLPGRPCEndpoint is the collector extension's OTLP/gRPC receiver.
const defaultOTLPGRPCEndpoint = "localhost:4317"

// grpcExporter is the upstream OTLP/gRPC exporter, in builds with
// -tags otlpgrpc. It reads its own OTEL_EXPORTER_OTLP_* variables; with no
// endpoint it sends to the extension in plain text.
func grpcExporter(ctx context.Context, getenv func(string) string) (sdktrace.SpanExporter, error) {
	if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" {
		return otlptracegrpc.New(ctx)
	}
	return otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(defaultOTLPGRPCEndpoint), otlptracegrpc.WithInsecure())
}
