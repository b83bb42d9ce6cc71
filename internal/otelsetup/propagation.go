package otelsetup

import (
	"context"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// traceHeaderContextKey is the context key under which aws-lambda-go stores
// the Lambda-Runtime-Trace-Id header of each invocation (lambda/invoke_loop.go
// in aws-lambda-go). It is a plain string there, so it is one here.
const traceHeaderContextKey = "x-amzn-trace-id"

// traceHeaderEnv is the variable aws-lambda-go also sets to that header. It is
// only right while a process runs one invocation at a time.
const traceHeaderEnv = "_X_AMZN_TRACE_ID"

// propagatorFromEnv reads OTEL_PROPAGATORS. The default injects both W3C trace
// context and the X-Ray header; X-Ray comes last so that on extraction its
// header, which every AWS service understands, wins over traceparent.
func propagatorFromEnv(names string) (propagation.TextMapPropagator, error) {
	if names == "" {
		names = "tracecontext,baggage,xray"
	}
	var props []propagation.TextMapPropagator
	for name := range strings.SplitSeq(names, ",") {
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "tracecontext":
			props = append(props, propagation.TraceContext{})
		case "baggage":
			props = append(props, propagation.Baggage{})
		case "xray":
			props = append(props, xray.Propagator{})
		case "none":
			return propagation.NewCompositeTextMapPropagator(), nil
		default:
			return nil, fmt.Errorf("OTEL_PROPAGATORS=%q: %q is not one of tracecontext, baggage, xray, none", names, name)
		}
	}
	return propagation.NewCompositeTextMapPropagator(props...), nil
}

// lambdaParent returns ctx carrying the span context of the invocation's
// X-Ray trace header: Root is the trace, Parent the id of the function's own
// segment, Sampled the decision of X-Ray's sampling rules. A missing or
// malformed header leaves ctx as it is, so the invocation starts a new trace.
func lambdaParent(ctx context.Context) context.Context {
	header, _ := ctx.Value(traceHeaderContextKey).(string)
	if header == "" {
		header = os.Getenv(traceHeaderEnv)
	}
	if header == "" {
		return ctx
	}
	return xray.Propagator{}.Extract(ctx, propagation.HeaderCarrier{"X-Amzn-Trace-Id": {header}})
}

// LinkFromTraceHeader returns a link to the span that an X-Ray trace header
// (Root=…;Parent=…;Sampled=…) names, such as the AWSTraceHeader system
// attribute of an SQS message. ok is false when the header does not name one.
func LinkFromTraceHeader(header string) (link trace.Link, ok bool) {
	if header == "" {
		return trace.Link{}, false
	}
	ctx := xray.Propagator{}.Extract(context.Background(), propagation.HeaderCarrier{"X-Amzn-Trace-Id": {header}})
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return trace.Link{}, false
	}
	return trace.Link{SpanContext: sc}, true
}
