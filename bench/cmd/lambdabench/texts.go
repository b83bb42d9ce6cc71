package main

// What dominates each cost, from the profiles taken while making it fast
// (the note has the commands). They are prose, kept here so that
// `make bench` rewrites the whole of BENCHMARKS.md.
const (
	initText = `What dominates: the Go runtime's start and the package initializers of everything linked (the AWS SDK's endpoint rules and the protobuf registry among the largest), then loading the AWS config. Tracing adds building the tracer provider and its exporter; neither dials, so the collector's absence costs nothing at init.`

	warmText = `What dominates: the flush. Each invocation ends by exporting its spans and waiting for the answer (OTLP/HTTP or gRPC round trip on loopback), or by writing UDP datagrams (xrayudp, no answer to wait for). Recording five spans costs a few microseconds; encoding them to protobuf a few more.`

	sizeText = `What dominates: the AWS SDK (the same in every variant) and, for the traced ones, the OpenTelemetry SDK, the OTLP exporters and the protobuf runtime they need; the gRPC exporter also links gRPC.`

	rssText = `What dominates: the Go runtime and the AWS SDK's clients; the tracer provider's batch queue and exporter buffers add little, and nothing is kept per invocation.`

	growthText = `What dominates: per span, recording and encoding; per invocation, the export round trip. A batch of SQS records costs one span per record.`

	hotpathText = `Wrapping an invocation includes decoding the event and starting and ending its span; extracting the trace header is the X-Ray propagator on Lambda's header; annotations are span attributes; the SDK middleware is one DynamoDB call against a loopback stand-in.`
)
