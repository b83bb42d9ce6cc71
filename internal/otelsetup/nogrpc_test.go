//go:build !otlpgrpc

package otelsetup_test

// grpcWantErr: a default build refuses gRPC, saying how to get it.
const grpcWantErr = "build the function with -tags otlpgrpc"
