package main

// What dominates each cost, from the profiles taken while making it fast
// (`GODEBUG=inittrace=1` on the bootstraps, `go test -cpuprofile` on
// internal/otelsetup's BenchmarkInvocation, `go list -deps`, `go tool nm
// -size`). They are prose, kept here so that `make bench` rewrites the whole
// of BENCHMARKS.md; a change that moves the figures should move the words.
const (
	initText = `What dominates: in every variant, the Go runtime and the package initializers, the DynamoDB client's schemas and endpoint rules alone about 1.5 ms (GODEBUG=inittrace=1), then loading the AWS config. otelsetup adds about 0.3 ms of package initializers (the SDK's resource package), 0.2 ms for Setup, and about 1 ms for aws-lambda-go registering its internal extension, an HTTP round trip to the Runtime API before the first poll, which Lambda needs in order to send SIGTERM at shutdown (the same function started with lambda.Start instead of otelsetup.Start initializes as fast as the control: p50 7.9 ms against 8.4 ms over 20 starts). Stock pays in addition the initializers of the protobuf registry, gRPC and otelaws's S3, SQS and SNS clients (about 2.5 ms by inittrace). Half of stock is out of reach by construction: the untraced control alone takes about three quarters of stock's Init.`

	warmText = `What dominates: the flush, a synchronous OTLP/HTTP round trip to the collector on loopback at the end of every invocation; in the CPU profile of the in-process benchmark a quarter of the time is socket syscalls, most of the rest net/http on both ends, and encoding five spans about 7%. otelsetup's invocation processor exports in the flushing goroutine, without the batch span processor's hand-off to its worker (45 µs less per invocation in-process). xrayudp writes datagrams and waits for no answer: half the overhead. gRPC adds HTTP/2 framing and its goroutines. With OTEL_SDK_DISABLED the wrapper costs nothing measurable.`

	sizeText = `What dominates: the AWS SDK and the DynamoDB client, in every variant. otelsetup adds the OpenTelemetry SDK and its own OTLP encoder and exporter. Stock and (e) link gRPC and the protobuf runtime, and gRPC links html/template (through golang.org/x/net/trace); once reflect's Value.Method is reachable, Go's linker keeps every exported method of every linked type, so the whole API of every AWS client stays in the binary. That, more than gRPC's own code, is the difference: removing gRPC, protobuf and otelaws took otelsetup's binary from 1.9× to 1.12× the control.`

	rssText = `What dominates: the Go runtime and the AWS SDK's clients; stock and (e) add gRPC's connection and buffers. Nothing grows with invocations: the invocation processor's buffer is emptied at every flush, and what growth shows is the heap settling.`

	growthText = `What dominates: below about 100 spans, the per-invocation export round trip; above it, recording and encoding each span, about 7 µs per span with OTLP/HTTP. An SQS batch costs one span per record plus the invocation's.`

	hotpathText = `Wrap: decoding the event into its type, the invocation span with its cold-start and service annotations, and the flush (spans dropped); otellambda's reflection wrapper has the event decoded into a map, encoded and decoded again into the handler's type, hence its extra allocations. TraceHeader: otelsetup.LinkFromTraceHeader against the X-Ray propagator's Extract (the same parser underneath). Annotate: PutAnnotation keeps the aws.xray.annotations list that the awsxray exporter reads, which means reading the span's attributes back (a copy); the stock way sets an attribute that X-Ray will not index. SDKMiddleware: one DynamoDB UpdateItem against a loopback stand-in through each middleware; the round trip dominates.`

	faultsText = `What dominates: the flush bound itself. A collector that refuses connections or resets them is retried with backoff (the extension may be starting), and one that hangs or answers late is waited for, each until the flush's second is up; the invocation then answers, its spans are dropped and the loss is reported on stderr through OpenTelemetry's error handler, with the cause (or "still under way" when the export had not returned at the bound; its cause then comes with the next flush's report). A 500 is not retryable (OTLP/HTTP retries 429, 502, 503 and 504 only) and costs one round trip. A 429 whose Retry-After ends past the flush's deadline is given up at once: the retry could not be made in time anyway. xrayudp waits for no answer, so a missing agent costs nothing, and nothing can be reported: a datagram to a closed port is lost without a word to an unconnected socket. In every case the next invocation's spans reach the collector once it is back.`
)

// Prose of the comparisons added in the second round (compare.go,
// concurrency.go); the figures they cite come from the run that wrote them.
const (
	xraySDKText = `TODO`

	savingsText = `TODO`

	concurrencyText = `TODO`
)
