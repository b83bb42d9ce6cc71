package otelsetup

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// How AWS calls fail fast. The SDK's defaults suit long-running programs (a
// 30 s dial timeout, no response timeout, up to 20 s between attempts); a
// Lambda invocation that waits that long has already failed, and its retries
// belong to the event source (SNS and SQS redeliver).
const (
	awsMaxAttempts     = 3
	awsMaxBackoff      = 500 * time.Millisecond
	awsConnectTimeout  = time.Second
	awsResponseTimeout = 3 * time.Second
	awsAttemptTimeout  = 5 * time.Second
)

// AWSConfig loads the AWS SDK configuration the standard way (region,
// credentials and AWS_ENDPOINT_URL_* from the environment) and instruments
// every client built from it:
//   - each call is a CLIENT span, which the awsxray exporter turns into an
//     "aws" subsegment named after the service (DynamoDB, SQS, SNS);
//   - each request carries the X-Amzn-Trace-Id header, which is how SQS fills
//     a message's AWSTraceHeader and SNS passes the trace on;
//   - fail-fast timeouts and retries replace the SDK's defaults.
//
// optFns are passed on to config.LoadDefaultConfig after these defaults.
func (t *Tracing) AWSConfig(ctx context.Context, optFns ...func(*config.LoadOptions) error) (aws.Config, error) {
	httpClient := awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = awsConnectTimeout }).
		WithTransportOptions(func(tr *http.Transport) {
			tr.TLSHandshakeTimeout = awsConnectTimeout
			tr.ResponseHeaderTimeout = awsResponseTimeout
		}).
		WithTimeout(awsAttemptTimeout)
	defaults := []func(*config.LoadOptions) error{
		config.WithHTTPClient(httpClient),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = awsMaxAttempts
				o.MaxBackoff = awsMaxBackoff
			})
		}),
	}
	cfg, err := config.LoadDefaultConfig(ctx, append(defaults, optFns...)...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("otelsetup: load AWS config: %w", err)
	}
	t.InstrumentAWS(&cfg)
	return cfg, nil
}

// InstrumentAWS adds the tracing of [Tracing.AWSConfig] to a configuration
// loaded some other way: a CLIENT span per call, with the attributes the
// awsxray exporter reads, and the call's X-Ray trace header.
//
// It does what otelaws does (span name Service.Operation, rpc.system.name,
// rpc.method, aws.region, aws.request_id, http.response.status_code) without
// linking otelaws, whose attribute builders import the S3, SQS and SNS
// clients into every function (their package initializers alone cost a
// cold start about a millisecond; see BENCHMARKS.md).
func (t *Tracing) InstrumentAWS(cfg *aws.Config) {
	tracer := t.provider.Tracer(awsScopeName)
	cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
		return errors.Join(
			stack.Initialize.Add(middleware.InitializeMiddlewareFunc("otelsetup.Span", func(
				ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler,
			) (middleware.InitializeOutput, middleware.Metadata, error) {
				service, operation := awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)
				ctx, span := tracer.Start(ctx, service+"."+operation,
					trace.WithSpanKind(trace.SpanKindClient),
					trace.WithAttributes(
						rpcSystemNameKey.String(awsSystemAWSAPI),
						rpcMethodKey.String(service+"/"+operation),
						awsRegionKey.String(awsmiddleware.GetRegion(ctx)),
					))
				defer span.End()
				out, md, err := next.HandleInitialize(ctx, in)
				span.SetAttributes(XRayAttributes(ctx, in, out)...)
				if err != nil {
					span.SetAttributes(errorTypeKey.String(fmt.Sprintf("%T", err)))
					span.SetStatus(codes.Error, err.Error())
				}
				return out, md, err
			}), middleware.After),
			// After signing, on every attempt: AWS services read only the
			// X-Ray header; W3C headers would be noise.
			stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("otelsetup.TraceHeader", func(
				ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler,
			) (middleware.FinalizeOutput, middleware.Metadata, error) {
				if req, ok := in.Request.(*smithyhttp.Request); ok {
					// Whatever else the header held (Lineage, which the
					// SDK copies from _X_AMZN_TRACE_ID) goes on with it.
					ctx := withExtraFields(ctx, req.Header.Get(traceHeaderName))
					XRayPropagator{}.Inject(ctx, propagation.HeaderCarrier(req.Header))
				}
				return next.HandleFinalize(ctx, in)
			}), middleware.After),
			stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("otelsetup.Response", func(
				ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler,
			) (middleware.DeserializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleDeserialize(ctx, in)
				if resp, ok := out.RawResponse.(*smithyhttp.Response); ok {
					span := trace.SpanFromContext(ctx)
					span.SetAttributes(httpStatusCodeKey.Int(resp.StatusCode))
					if id, ok := awsmiddleware.GetRequestIDMetadata(md); ok {
						span.SetAttributes(awsRequestIDKey.String(id))
					}
				}
				return out, md, err
			}), middleware.Before),
		)
	})
}

// Attributes the awsxray exporter reads. otelaws v0.65 and later emit only
// the newer semantic-convention keys (rpc.system.name, rpc.method=Service/Op,
// server.address for a queue), which the exporter does not know: it treats a
// span as an AWS SDK call only when rpc.system is "aws-api", names the
// subsegment from aws.service (else rpc.service), and reads aws.operation,
// aws.table_name and aws.queue_url (exporter/awsxrayexporter/internal/
// translator, segment.go and aws.go, in opentelemetry-collector-contrib).
// aws.region and aws.request_id are set with the others by InstrumentAWS.
const (
	rpcSystemKey    = attribute.Key("rpc.system")
	rpcServiceKey   = attribute.Key("rpc.service")
	awsServiceKey   = attribute.Key("aws.service")
	awsOperationKey = attribute.Key("aws.operation")
	awsTableNameKey = attribute.Key("aws.table_name")
	awsQueueURLKey  = attribute.Key("aws.queue_url")
	awsTopicARNKey  = attribute.Key("aws.sns.topic.arn")
	awsSystemAWSAPI = "aws-api"

	// What otelaws sets too, under the current semantic conventions.
	rpcSystemNameKey  = attribute.Key("rpc.system.name")
	rpcMethodKey      = attribute.Key("rpc.method")
	awsRegionKey      = attribute.Key("aws.region")
	awsRequestIDKey   = attribute.Key("aws.request_id")
	httpStatusCodeKey = attribute.Key("http.response.status_code")
	errorTypeKey      = attribute.Key("error.type")
)

// awsScopeName names the tracer of AWS calls' spans, under the package's
// import path read at run time (see scopeName).
var awsScopeName = packagePath + "/aws"

// XRayAttributes are the attributes the awsxray exporter needs to show an
// AWS call as an AWS subsegment with its resource (see the constants
// above); [Tracing.InstrumentAWS] adds them to each call's span. The
// resource is read from the call's input by field name (TableName,
// QueueUrl, TopicArn), so that no service client is linked for its types.
func XRayAttributes(ctx context.Context, in middleware.InitializeInput, _ middleware.InitializeOutput) []attribute.KeyValue {
	service := awsmiddleware.GetServiceID(ctx)
	operation := awsmiddleware.GetOperationName(ctx)
	attrs := []attribute.KeyValue{
		rpcSystemKey.String(awsSystemAWSAPI),
		rpcServiceKey.String(service),
		awsServiceKey.String(service),
		awsOperationKey.String(operation),
	}
	switch service {
	case "DynamoDB":
		attrs = appendNonEmpty(attrs, awsTableNameKey, stringField(in.Parameters, "TableName"))
	case "SQS":
		attrs = appendNonEmpty(attrs, awsQueueURLKey, stringField(in.Parameters, "QueueUrl"))
	case "SNS":
		attrs = appendNonEmpty(attrs, awsTopicARNKey, stringField(in.Parameters, "TopicArn"))
	}
	return attrs
}

// stringField reads the *string field name of the struct v points to.
func stringField(v any, name string) *string {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return nil
	}
	f := rv.Elem().FieldByName(name)
	if !f.IsValid() || f.Kind() != reflect.Pointer || f.IsNil() || f.Elem().Kind() != reflect.String {
		return nil
	}
	s := f.Elem().String()
	return &s
}

func appendNonEmpty(attrs []attribute.KeyValue, key attribute.Key, value *string) []attribute.KeyValue {
	if value == nil || *value == "" {
		return attrs
	}
	return append(attrs, key.String(*value))
}
