// Package otelsetup traces a Go Lambda function with OpenTelemetry so that
// AWS X-Ray shows it as the X-Ray SDK would: one node per function on the
// service map, AWS calls as subsegments named after the service, calls to
// other APIs as remote subsegments, annotations that trace search can filter
// on, and errors with their stacks. It is meant to be copied into your own
// functions; it depends only on OpenTelemetry, the AWS SDK for Go v2,
// aws-lambda-go, backoff and gobreaker.
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
//   - [Start] (or lambda.Start([Wrap](...))) traces every invocation.
//   - [Tracing.AWSConfig] and [Tracing.HTTPClient] build the clients.
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
//	                            console (a waterfall tree per trace); none; or a
//	                            comma-separated list
//	OTEL_EXPORTER_OTLP_PROTOCOL http/protobuf (default), or grpc in a build with
//	                            -tags otlpgrpc; also _TRACES_PROTOCOL
//	OTEL_EXPORTER_OTLP_ENDPOINT default http://localhost:4318, the ADOT collector
//	                            layer's extension (_TRACES_ENDPOINT: the whole URL);
//	                            _HEADERS, _TIMEOUT, _COMPRESSION (gzip) too
//	OTEL_TRACES_SAMPLER         default parentbased_always_on: follow the Sampled
//	                            flag of Lambda's trace header (X-Ray's sampling rules);
//	                            also always_on, always_off, traceidratio and
//	                            parentbased_* with OTEL_TRACES_SAMPLER_ARG
//	OTEL_PROPAGATORS            default tracecontext,baggage,xray; also none
//	OTEL_SDK_DISABLED           true: record nothing, still pass trace context on
//
// The flush at the end of each invocation waits at most [DefaultFlushTimeout]
// ([WithFlushTimeout] changes it) and never past the invocation's deadline.
//
// # How spans become X-Ray data
//
// The ADOT collector layer's awsxray exporter translates the spans. The
// invocation span is INTERNAL, a child of the segment Lambda records for the
// function, so it becomes a subsegment of that segment (see [Wrap]). Spans of
// AWS calls carry rpc.system=aws-api and aws.service, so they become "aws"
// subsegments (see [XRayAttributes]); HTTP client spans become "remote" ones.
// The attribute aws.xray.annotations lists the keys X-Ray indexes as
// annotations; every other attribute is metadata.
package otelsetup
