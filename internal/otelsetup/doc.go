// Package otelsetup traces a Go Lambda function with OpenTelemetry so that
// AWS X-Ray shows it as the X-Ray SDK would: one node per function on the
// service map, AWS calls as subsegments named after the service, calls to
// other APIs as remote subsegments, annotations that trace search can filter
// on, and errors with their stacks. It is meant to be copied into your own
// functions, under any module path and directory; it depends only on
// OpenTelemetry (with contrib's otelhttp and Lambda resource detector), the
// AWS SDK for Go v2, aws-lambda-go and protobuf's protowire.
//
// A whole function:
//
//	func main() {
//		ctx := context.Background()
//		tracing, err := otelsetup.Setup(ctx) // reads OTEL_* from the environment
//		if err != nil {
//			log.Fatal(err)
//		}
//		awsCfg, err := tracing.AWSConfig(ctx) // every AWS call traced
//		if err != nil {
//			log.Fatal(err)
//		}
//		h := &Handler{DB: dynamodb.NewFromConfig(awsCfg)}
//		otelsetup.Start(tracing, h.Handle) // lambda.Start, traced and flushed
//	}
//
//	func (h *Handler) Handle(ctx context.Context, ev events.SNSEvent) (Result, error) {
//		err := otelsetup.Capture(ctx, "DynamoDB Query", func(ctx context.Context) error {
//			otelsetup.PutAnnotation(ctx, "path", ev.Records[0].SNS.Message)
//			_, err := h.DB.UpdateItem(ctx, ...)
//			return err
//		})
//		return Result{}, err
//	}
//
// # What a user learns
//
//   - [Setup] builds the [Tracing] of the function once per process.
//   - [Start] (or lambda.Start([Wrap](...))) traces every invocation; both
//     take aws-lambda-go's decoder options (lambda.WithUseNumber,
//     WithDisallowUnknownFields) and encoder options. What is left is
//     flushed when Lambda sends SIGTERM, which Lambda does only for a
//     function that registered an extension during Init: Setup begins that
//     registration in the background and shuts the tracing down on SIGTERM;
//     Wrap (and so Start) awaits the registration, before the first poll.
//   - [Tracing.AWSConfig] and [Tracing.HTTPClient] build the clients;
//     [Tracing.HTTPTransport] traces the calls of a client you build, with
//     your own retries outside it (a span per attempt) and a circuit breaker
//     inside it. AWS calls keep the AWS SDK's own retries, with timeouts
//     sized for Lambda; an HTTP call is made once, since retries and
//     breakers for other APIs are the function's choice, not tracing.
//   - [Capture] records a step as a subsegment; [PutAnnotation] and
//     [PutMetadata] record data on the current span.
//
// # Configuration
//
// Only standard variables are read, so nothing differs between AWS and a
// laptop but the environment:
//
//	OTEL_SERVICE_NAME           service.name, the name of the function's segments;
//	                            default AWS_LAMBDA_FUNCTION_NAME
//	OTEL_RESOURCE_ATTRIBUTES    more resource attributes (k=v,k=v)
//	OTEL_TRACES_EXPORTER        otlp (default); xrayudp (Lambda's X-Ray agent over
//	                            UDP, no collector layer; AWS_XRAY_DAEMON_ADDRESS);
//	                            console (OpenTelemetry's stdout exporter: a line
//	                            of JSON per span on stdout, as the span ends);
//	                            none; or a comma-separated list
//	OTEL_EXPORTER_OTLP_PROTOCOL http/protobuf (default), or grpc in a build with
//	                            -tags otlpgrpc; also _TRACES_PROTOCOL
//	OTEL_EXPORTER_OTLP_ENDPOINT default http://localhost:4318, the ADOT collector
//	                            layer's extension (_TRACES_ENDPOINT: the whole URL);
//	                            _HEADERS, _TIMEOUT, _COMPRESSION (gzip) too
//	OTEL_TRACES_SAMPLER         default parentbased_always_on: follow the Sampled
//	                            flag of Lambda's trace header (X-Ray's sampling rules);
//	                            also always_on, always_off, traceidratio and
//	                            parentbased_* with OTEL_TRACES_SAMPLER_ARG (a ratio
//	                            from 0 to 1, default 1); names in any case; a
//	                            malformed ratio stops the function at start
//	OTEL_PROPAGATORS            default tracecontext,baggage,xray; also none
//	OTEL_SDK_DISABLED           true: record nothing, still pass trace context on
//
// The flush at the end of each invocation waits at most [DefaultFlushTimeout]
// ([WithFlushTimeout] changes it) and stops [DeadlineMargin] (100 ms) before
// the invocation's deadline, the time the function still needs to send its
// answer: a slow or dead collector never turns into a Lambda timeout.
//
// # What every invocation leaves
//
//   - The invocation span, with the annotations ColdStart and Service, named
//     as Powertools for AWS Lambda names them.
//   - An event that does not decode into the handler's type: the invocation
//     span with a [*DecodeError] naming the type, returned to Lambda too.
//   - A handler still running shortly before its deadline (the margin and
//     the time the flush may take, at most 200 ms): the invocation span ends
//     as timed out ([TimeoutError]) and is exported with every span ended so
//     far; the handler runs on until Lambda stops it, and spans it ends later
//     are flushed if time allows.
//   - Errors and panics: status Error and an exception event. Its type is
//     the most specific meaningful one (not the *fmt.wrapError around it; a
//     panic's is the type of its value). Go errors carry no stack, so the
//     recorded stack is the goroutine's where the error is recorded: for
//     [Capture] the code that called it, for a handler's returned error the
//     invocation's caller; only a panic's stack shows where it happened.
//
// Several invocations may run in one process (AWS_LAMBDA_MAX_CONCURRENCY
// above 1, Lambda Managed Instances): each has its own span, decoder and
// flush; ColdStart is true once per process; goroutines may annotate one span
// at once.
//
// # The trace header
//
// [XRayPropagator] reads and writes X-Amzn-Trace-Id as AWS services do, for
// the invocation's header and for every call the function makes:
//   - every field beyond Root, Parent and Sampled (Lambda's Lineage, which
//     its recursive loop detection counts; Self) goes out again unchanged on
//     every AWS call, HTTP call and SQS message, with the same Root and a new
//     Parent; with OTEL_SDK_DISABLED the header goes out as it came;
//   - Sampled=? (or no Sampled) leaves the decision to the sampler, as for a
//     root span of the header's Root;
//   - a header with Root but no Parent continues that trace;
//   - spaces after ';' and around '=' are ignored;
//   - a malformed header is reported once through OpenTelemetry's error
//     handler, and the invocation runs in a new trace.
//
// # How spans become X-Ray data
//
// The ADOT collector layer's awsxray exporter translates the spans. The
// invocation span is INTERNAL, a child of the segment Lambda records for the
// function, so it becomes a subsegment of that segment (see [Wrap]). Spans of
// AWS calls carry rpc.system=aws-api and aws.service, so they become "aws"
// subsegments (see [XRayAttributes]); HTTP client spans become "remote" ones.
// The attribute aws.xray.annotations lists the keys X-Ray indexes as
// annotations (keys of A-Z, a-z, 0-9 and _; see [PutAnnotation]); every
// other attribute is metadata. The instrumentation scope of the spans this
// package starts is its import path, read at run time.
package otelsetup
