package otelsetup

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"
	"go.opentelemetry.io/contrib/instrumentation/github.com/aws/aws-sdk-go-v2/otelaws"
	"go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/otel/attribute"
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
	otelaws.AppendMiddlewares(&cfg.APIOptions,
		otelaws.WithTracerProvider(t.provider),
		// AWS services read only the X-Ray header; W3C headers would be noise.
		otelaws.WithTextMapPropagator(xray.Propagator{}),
		otelaws.WithAttributeBuilder(otelaws.DefaultAttributeBuilder, XRayAttributes),
	)
	return cfg, nil
}

// Attributes the awsxray exporter reads. otelaws v0.65 and later emit only
// the newer semantic-convention keys (rpc.system.name, rpc.method=Service/Op,
// server.address for a queue), which the exporter does not know: it treats a
// span as an AWS SDK call only when rpc.system is "aws-api", names the
// subsegment from aws.service (else rpc.service), and reads aws.operation,
// aws.table_name and aws.queue_url (exporter/awsxrayexporter/internal/
// translator, segment.go and aws.go, in opentelemetry-collector-contrib).
// aws.region and aws.request_id come from otelaws already; rpc.method is left
// as otelaws sets it.
const (
	rpcSystemKey    = attribute.Key("rpc.system")
	rpcServiceKey   = attribute.Key("rpc.service")
	awsServiceKey   = attribute.Key("aws.service")
	awsOperationKey = attribute.Key("aws.operation")
	awsTableNameKey = attribute.Key("aws.table_name")
	awsQueueURLKey  = attribute.Key("aws.queue_url")
	awsTopicARNKey  = attribute.Key("aws.sns.topic.arn")
	awsSystemAWSAPI = "aws-api"
)

// XRayAttributes is an otelaws attribute builder that adds to each AWS call
// span the attributes the awsxray exporter needs to show it as an AWS
// subsegment with its resource (see the constants above). [Tracing.AWSConfig]
// installs it; it is exported for clients configured by hand.
func XRayAttributes(ctx context.Context, in middleware.InitializeInput, _ middleware.InitializeOutput) []attribute.KeyValue {
	service := awsmiddleware.GetServiceID(ctx)
	operation := awsmiddleware.GetOperationName(ctx)
	attrs := []attribute.KeyValue{
		rpcSystemKey.String(awsSystemAWSAPI),
		rpcServiceKey.String(service),
		awsServiceKey.String(service),
		awsOperationKey.String(operation),
	}
	switch v := in.Parameters.(type) {
	case *dynamodb.UpdateItemInput:
		attrs = appendNonEmpty(attrs, awsTableNameKey, v.TableName)
	case *dynamodb.GetItemInput:
		attrs = appendNonEmpty(attrs, awsTableNameKey, v.TableName)
	case *dynamodb.PutItemInput:
		attrs = appendNonEmpty(attrs, awsTableNameKey, v.TableName)
	case *dynamodb.DeleteItemInput:
		attrs = appendNonEmpty(attrs, awsTableNameKey, v.TableName)
	case *dynamodb.QueryInput:
		attrs = appendNonEmpty(attrs, awsTableNameKey, v.TableName)
	case *dynamodb.ScanInput:
		attrs = appendNonEmpty(attrs, awsTableNameKey, v.TableName)
	case *sqs.SendMessageInput:
		attrs = appendNonEmpty(attrs, awsQueueURLKey, v.QueueUrl)
	case *sqs.SendMessageBatchInput:
		attrs = appendNonEmpty(attrs, awsQueueURLKey, v.QueueUrl)
	case *sqs.ReceiveMessageInput:
		attrs = appendNonEmpty(attrs, awsQueueURLKey, v.QueueUrl)
	case *sqs.DeleteMessageInput:
		attrs = appendNonEmpty(attrs, awsQueueURLKey, v.QueueUrl)
	case *sqs.DeleteMessageBatchInput:
		attrs = appendNonEmpty(attrs, awsQueueURLKey, v.QueueUrl)
	case *sns.PublishInput:
		attrs = appendNonEmpty(attrs, awsTopicARNKey, v.TopicArn)
	case *sns.PublishBatchInput:
		attrs = appendNonEmpty(attrs, awsTopicARNKey, v.TopicArn)
	}
	return attrs
}

func appendNonEmpty(attrs []attribute.KeyValue, key attribute.Key, value *string) []attribute.KeyValue {
	if value == nil || *value == "" {
		return attrs
	}
	return append(attrs, key.String(*value))
}
