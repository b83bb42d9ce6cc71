package otelsetup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Keys of the annotations that every invocation carries, named as Powertools
// names them, in the form X-Ray can index.
const (
	ColdStartAnnotation = "cold_start"
	ServiceAnnotation   = "service"
)

// Wrap returns a Lambda handler that traces every invocation of handler.
// Use it once per process, at the call to lambda.Start:
//
//	lambda.Start(otelsetup.Wrap(tracing, h.Handle))
//
// For each invocation it
//   - continues the trace of Lambda's X-Ray header (the context value
//     "x-amzn-trace-id", else _X_AMZN_TRACE_ID); without a valid header it
//     starts a new trace;
//   - starts the invocation span, of kind INTERNAL: the awsxray exporter makes
//     a span with a parent that is not a SERVER span a subsegment, so the
//     invocation hangs under the segment that Lambda itself records for the
//     function (the header's Parent), and the function is one node on the
//     X-Ray map, as with the X-Ray SDK. A SERVER span would become a second
//     segment, a second node beside the function's own;
//   - decodes the event into In, so that a malformed event is a traced error
//     that names the event type, not a panic or an untraced failure;
//   - sets faas.invocation_id, faas.coldstart, faas.trigger, cloud.account.id
//     and cloud.resource_id, and the annotations cold_start and service;
//   - records a returned error (status Error and an exception event with the
//     stack) and a panic, which it records, flushes and panics again with;
//   - flushes the spans before returning, within the flush timeout, so a frozen
//     sandbox loses none and a dead collector costs at most that bound.
func Wrap[In, Out any](t *Tracing, handler func(context.Context, In) (Out, error)) func(context.Context, json.RawMessage) (Out, error) {
	var invoked atomic.Bool
	trigger := triggerOf[In]()
	return func(ctx context.Context, payload json.RawMessage) (out Out, err error) {
		coldStart := !invoked.Swap(true)
		ctx, span := t.tracer.Start(lambdaParent(ctx), invocationName(t),
			trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithAttributes(invocationAttributes(ctx, coldStart, trigger)...),
		)
		annotate(span, attribute.Bool(ColdStartAnnotation, coldStart), attribute.String(ServiceAnnotation, t.serviceName))

		defer func() {
			if r := recover(); r != nil {
				recordError(span, fmt.Errorf("panic: %v", r))
				span.End()
				t.Flush(ctx)
				panic(r)
			}
			if err != nil {
				recordError(span, err)
			}
			span.End()
			t.Flush(ctx)
		}()

		var in In
		if err := json.Unmarshal(payload, &in); err != nil {
			return out, fmt.Errorf("decode %T event: %w", in, err)
		}
		return handler(ctx, in)
	}
}

// invocationName names the invocation span after the function, as the X-Ray
// SDK names the function's segment.
func invocationName(t *Tracing) string {
	if lambdacontext.FunctionName != "" {
		return lambdacontext.FunctionName
	}
	return t.serviceName
}

// invocationAttributes are the FaaS attributes of one invocation.
func invocationAttributes(ctx context.Context, coldStart bool, trigger attribute.KeyValue) []attribute.KeyValue {
	attrs := []attribute.KeyValue{semconv.FaaSColdstart(coldStart), trigger}
	lc, ok := lambdacontext.FromContext(ctx)
	if !ok {
		return attrs
	}
	attrs = append(attrs, semconv.FaaSInvocationID(lc.AwsRequestID))
	if arn := lc.InvokedFunctionArn; arn != "" {
		attrs = append(attrs, semconv.CloudResourceID(arn))
		// arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
		if parts := strings.Split(arn, ":"); len(parts) > 4 && parts[4] != "" {
			attrs = append(attrs, semconv.CloudAccountID(parts[4]))
		}
	}
	return attrs
}

// triggerOf tells faas.trigger from the event type a handler takes.
func triggerOf[In any]() attribute.KeyValue {
	var in In
	switch any(in).(type) {
	case events.SNSEvent, events.SQSEvent, events.KinesisEvent, events.KafkaEvent:
		return semconv.FaaSTriggerPubSub
	case events.APIGatewayProxyRequest, events.APIGatewayV2HTTPRequest, events.ALBTargetGroupRequest, events.LambdaFunctionURLRequest:
		return semconv.FaaSTriggerHTTP
	case events.DynamoDBEvent, events.S3Event:
		return semconv.FaaSTriggerDatasource
	}
	return semconv.FaaSTriggerOther
}

// recordError marks span failed with err: the status X-Ray turns into a fault
// or error, and an exception event, which X-Ray shows as the cause. The event
// is the one span.RecordError writes, with two changes that make the X-Ray
// console more useful: exception.type names the most specific error in the
// chain (a *types.ResourceNotFoundException rather than the *fmt.wrapError
// around it), and the stack starts at the caller, not inside the SDK.
func recordError(span trace.Span, err error) {
	if !span.IsRecording() {
		return
	}
	span.AddEvent(semconv.ExceptionEventName, trace.WithAttributes(
		semconv.ExceptionType(errorType(err)),
		semconv.ExceptionMessage(err.Error()),
		semconv.ExceptionStacktrace(callerStack()),
	))
	span.SetStatus(codes.Error, err.Error())
}

// errorType names the innermost error of err's chain that is more than a
// wrapper or a plain message, else err's own type.
func errorType(err error) string {
	name := fmt.Sprintf("%T", err)
	for e := err; e != nil; e = errors.Unwrap(e) {
		switch t := fmt.Sprintf("%T", e); t {
		case "*fmt.wrapError", "*fmt.wrapErrors", "*errors.joinError", "*errors.errorString":
		default:
			name = t
		}
	}
	return name
}

// callerStack is the goroutine's stack in runtime.Stack's format (which the
// awsxray exporter parses), without the frames of this file's helpers.
func callerStack() string {
	buf := make([]byte, 16<<10)
	buf = buf[:runtime.Stack(buf, false)]
	header, frames, _ := strings.Cut(string(buf), "\n")
	lines := strings.Split(frames, "\n")
	// Frames are pairs of lines: function, then file:line. Drop callerStack
	// and recordError.
	skip := 0
	for skip+1 < len(lines) && (strings.Contains(lines[skip], "otelsetup.callerStack") || strings.Contains(lines[skip], "otelsetup.recordError")) {
		skip += 2
	}
	return header + "\n" + strings.Join(lines[skip:], "\n")
}

// Start runs handler as the function's Lambda handler, wrapped by [Wrap], and
// shuts the tracing down, flushing what is left, when Lambda sends SIGTERM
// before it ends the sandbox. It does not return.
func Start[In, Out any](t *Tracing, handler func(context.Context, In) (Out, error)) {
	lambda.StartWithOptions(Wrap(t, handler), lambda.WithEnableSIGTERM(func() {
		ctx, cancel := context.WithTimeout(context.Background(), t.flushTimeout)
		defer cancel()
		if err := t.Shutdown(ctx); err != nil {
			otel.Handle(err)
		}
	}))
}
