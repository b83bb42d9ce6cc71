//go:build otlpgrpc

package otelsetup_test

// grpcWantErr: with -tags otlpgrpc, OTLP over gRPC is built in.
const grpcWantErr = ""
