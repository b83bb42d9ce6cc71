package otelsetup

import (
	"context"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
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
			props = append(props, XRayPropagator{})
		case "none":
			return propagation.NewCompositeTextMapPropagator(), nil
		default:
			return nil, fmt.Errorf("OTEL_PROPAGATORS=%q: %q is not one of tracecontext, baggage, xray, none", names, name)
		}
	}
	return propagation.NewCompositeTextMapPropagator(props...), nil
}

// lambdaParent returns ctx carrying the invocation's X-Ray trace header: Root
// is the trace, Parent the id of the segment Lambda records for the function,
// Sampled the decision of X-Ray's sampling rules, and the other fields
// (Lineage) go out again on every call the invocation makes. Each invocation
// has its own header in ctx; _X_AMZN_TRACE_ID is read only when ctx does not
// come from aws-lambda-go, which sets the variable only while one invocation
// runs at a time (AWS_LAMBDA_MAX_CONCURRENCY unset or 1), so that a value left
// from before never parents another invocation's spans. A malformed header is reported
// through OpenTelemetry's error handler and leaves ctx as it is, so the
// invocation starts a new trace and still answers.
func lambdaParent(ctx context.Context) context.Context {
	header, fromRuntime := ctx.Value(traceHeaderContextKey).(string)
	if !fromRuntime {
		// Not a context of aws-lambda-go's invoke loop, which always sets
		// the key (empty without a header): a test, another runtime.
		header = os.Getenv(traceHeaderEnv)
	}
	if header == "" {
		return ctx
	}
	h, err := parseTraceHeader(header)
	if err != nil {
		otel.Handle(fmt.Errorf("otelsetup: the invocation's trace header %q: %w; its spans start a new trace", header, err))
		return ctx
	}
	return contextWithTraceHeader(ctx, h)
}

// LinkFromTraceHeader returns a link to the span that an X-Ray trace header
// (Root=…;Parent=…;Sampled=…) names, such as the AWSTraceHeader system
// attribute of an SQS message. ok is false when the header does not name one
// (no header, a malformed one, or one without Parent).
func LinkFromTraceHeader(header string) (link trace.Link, ok bool) {
	if header == "" {
		return trace.Link{}, false
	}
	h, err := parseTraceHeader(header)
	if err != nil {
		return trace.Link{}, false
	}
	sc := h.spanContext()
	if !sc.IsValid() {
		return trace.Link{}, false
	}
	return trace.Link{SpanContext: sc}, true
}
