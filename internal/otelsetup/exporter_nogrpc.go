//go:build !otlpgrpc

package otelsetup

import (
	"context"
	"errors"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// grpcExporter refuses: gRPC is linked only into builds with -tags otlpgrpc.
func grpcExporter(context.Context, func(string) string) (sdktrace.SpanExporter, error) {
	return nil, errors.New("OTLP over gRPC is not built in: build the function with -tags otlpgrpc, or use http/protobuf (the default)")
}
