package otelsetup

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Keys of the annotations that every invocation carries, named as Powertools
// for AWS Lambda (Python, TypeScript, Java, .NET) names them, so that one
// filter expression (annotation.ColdStart = true) finds the functions of
// every language.
const (
	ColdStartAnnotation = "ColdStart"
	ServiceAnnotation   = "Service"
)

// DecodeError is the error of an invocation whose event does not decode into
// the type the handler takes: an empty or truncated payload, bytes that are
// not JSON, JSON of another shape, or a field that
// lambda.WithDisallowUnknownFields rejects. [Wrap] records it on the
// invocation span and returns it to Lambda, which reports its type name,
// DecodeError, as the invocation's errorType.
type DecodeError struct {
	// EventType is the type the handler takes, such as events.SNSEvent.
	EventType string
	// Err is the error of aws-lambda-go's decoder.
	Err error
}

func (e *DecodeError) Error() string { return fmt.Sprintf("decode %s event: %v", e.EventType, e.Err) }

func (e *DecodeError) Unwrap() error { return e.Err }

// Wrap returns the Lambda handler that traces every invocation of handler.
// Use it once per process, at the call to lambda.Start (or use [Start]):
//
//	lambda.Start(otelsetup.Wrap(tracing, h.Handle))
//
// It takes the payload as Lambda sends it, before anything decodes it, so
// that every invocation leaves a trace. For each invocation it
//   - continues the trace of Lambda's X-Ray header (the context value
//     "x-amzn-trace-id", else _X_AMZN_TRACE_ID); without a valid header it
//     starts a new trace;
//   - starts the invocation span, of kind INTERNAL: the awsxray exporter makes
//     a span with a parent that is not a SERVER span a subsegment, so the
//     invocation hangs under the segment that Lambda itself records for the
//     function (the header's Parent), and the function is one node on the
//     X-Ray map, as with the X-Ray SDK. A SERVER span would become a second
//     segment, a second node beside the function's own;
//   - decodes the event into In and encodes the answer with aws-lambda-go's
//     own decoder and encoder, so they behave exactly as with lambda.Start;
//     an event that does not decode is a [*DecodeError], recorded on the
//     invocation span and returned;
//   - sets faas.invocation_id, faas.coldstart, faas.trigger, cloud.account.id
//     and cloud.resource_id, and the annotations ColdStart (true for the
//     first invocation of the process only, also when several run at once)
//     and Service;
//   - records a returned error and a panic (status Error and an exception
//     event, see [Capture] for what its type and stack say), and panics again
//     with the panic's value after the flush;
//   - ends the invocation span as timed out ([TimeoutError]) if the handler
//     still runs shortly before the invocation's deadline, and exports it with
//     every span ended so far; the handler goes on until Lambda stops it;
//   - is built only once [Setup]'s registration of the extension that
//     brings SIGTERM has ended (see [Start]), since Wrap is called during
//     Init, before lambda.Start polls for the first invocation, which ends
//     Init and registration with it;
//   - flushes the spans before returning, within the flush timeout and
//     [DeadlineMargin] before the deadline, so a frozen sandbox loses none and
//     a dead collector costs at most that bound, never a Lambda timeout.
//
// opts are aws-lambda-go's options of the decoder and the encoder:
// lambda.WithUseNumber, WithDisallowUnknownFields, WithSetEscapeHTML and
// WithSetIndent. Wrap applies them to each decoder it builds: one when it is
// called, and one more for each invocation that runs while all others are
// busy (only when AWS_LAMBDA_MAX_CONCURRENCY is above 1). So the options of
// the process do not belong here: lambda.WithEnableSIGTERM would register its
// extension and callbacks once per decoder ([Start] enables SIGTERM itself),
// and lambda.WithContext and WithContextValue set the context in which
// lambda.StartWithOptions invokes this handler, so they go there.
//
// Several invocations may run through the handler at once: each has its own
// span, flush and decoder, and shares only the cold-start flag.
func Wrap[In, Out any](t *Tracing, handler func(context.Context, In) (Out, error), opts ...lambda.Option) lambda.Handler {
	t.awaitRegistration()
	w := &wrapped[In, Out]{
		t:         t,
		handler:   handler,
		opts:      slices.Clone(opts),
		trigger:   triggerOf[In](),
		eventType: reflect.TypeFor[In]().String(),
	}
	// Built now, so that a single invocation loop builds one decoder in all
	// and the options run once, as lambda.StartWithOptions runs them.
	w.idle = []*decoder{w.newDecoder()}
	return w
}

// wrapped is the handler [Wrap] returns.
type wrapped[In, Out any] struct {
	t         *Tracing
	handler   func(context.Context, In) (Out, error)
	opts      []lambda.Option
	trigger   attribute.KeyValue
	eventType string
	invoked   atomic.Bool // an invocation has started: the next ones are warm

	mu   sync.Mutex
	idle []*decoder // decoders no invocation uses now
}

// A decoder is aws-lambda-go's own handler around the user's typed handler,
// used by one invocation at a time. aws-lambda-go's Invoke returns the answer
// in a buffer it has already handed back to its pool, so an invocation that
// shared the decoder could overwrite the answer of another before Lambda has
// it.
type decoder struct {
	lambda.Handler
	// reached says the event decoded and the handler was called: an error
	// without it is the decoder's.
	reached bool
}

func (w *wrapped[In, Out]) newDecoder() *decoder {
	d := &decoder{}
	d.Handler = lambda.NewHandlerWithOptions(func(ctx context.Context, in In) (Out, error) {
		d.reached = true
		return w.handler(ctx, in)
	}, w.opts...)
	return d
}

func (w *wrapped[In, Out]) take() *decoder {
	w.mu.Lock()
	defer w.mu.Unlock()
	if n := len(w.idle); n > 0 {
		d := w.idle[n-1]
		w.idle = w.idle[:n-1]
		return d
	}
	return w.newDecoder()
}

func (w *wrapped[In, Out]) give(d *decoder) {
	d.reached = false
	w.mu.Lock()
	defer w.mu.Unlock()
	w.idle = append(w.idle, d)
}

// Invoke runs one invocation: aws-lambda-go calls it with the payload as
// Lambda sent it.
func (w *wrapped[In, Out]) Invoke(ctx context.Context, payload []byte) (answer []byte, err error) {
	coldStart := !w.invoked.Swap(true)
	ctx, span := w.t.tracer.Start(lambdaParent(ctx), invocationName(w.t),
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(invocationAttributes(ctx, coldStart, w.trigger)...),
	)
	annotate(span, attribute.Bool(ColdStartAnnotation, coldStart), attribute.String(ServiceAnnotation, w.t.serviceName))
	inv := w.t.startInvocation(ctx, span)

	d := w.take()
	defer func() {
		if r := recover(); r != nil {
			w.give(d)
			inv.finish(ctx, func() { recordPanic(span, r) })
			panic(r)
		}
	}()
	answer, err = d.Invoke(ctx, payload)
	if err != nil && !d.reached {
		err = &DecodeError{EventType: w.eventType, Err: err}
	}
	// The answer is in the decoder's buffer, which the next invocation to
	// take the decoder writes over.
	answer = bytes.Clone(answer)
	w.give(d)
	inv.finish(ctx, func() {
		if err != nil {
			recordError(span, err)
		}
	})
	return answer, err
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
// console more useful: exception.type names the most specific error of err
// (see errorType), and the stack is the goroutine's where recordError runs,
// from its first frame outside this package (see callerStack).
func recordError(span trace.Span, err error) {
	recordException(span, errorType(err), err.Error(), callerStack())
}

// recordPanic marks span failed with the value a panic recovered: its type,
// and the stack of the panicking goroutine, which still holds the frames
// where the panic happened (deferred calls run on top of them).
func recordPanic(span trace.Span, r any) {
	typ := fmt.Sprintf("%T", r)
	if err, ok := r.(error); ok {
		typ = errorType(err)
	}
	recordException(span, typ, fmt.Sprintf("panic: %v", r), callerStack())
}

// recordException adds the exception event and sets the status Error; stack
// may be empty when no goroutine's stack says anything about the failure.
func recordException(span trace.Span, typ, msg, stack string) {
	if !span.IsRecording() {
		return
	}
	attrs := []attribute.KeyValue{semconv.ExceptionType(typ), semconv.ExceptionMessage(msg)}
	if stack != "" {
		attrs = append(attrs, semconv.ExceptionStacktrace(stack))
	}
	span.AddEvent(semconv.ExceptionEventName, trace.WithAttributes(attrs...))
	span.SetStatus(codes.Error, msg)
}

// errorType names the type X-Ray shows for err: the most specific
// meaningful type in err's tree (errors.Unwrap, and Unwrap() []error of
// errors.Join and fmt.Errorf with several %w). That is the deepest error that
// is neither a wrapper that only adds words (fmt.Errorf's, errors.Join's, the
// *url.Error around every failed HTTP request) nor a bare message
// (errors.New); on a tie the first, as errors.As would find it. A tree of
// only wrappers and messages is named after its deepest message, the error
// that arose, not the words around it.
func errorType(err error) string {
	meaningful, message := "", ""
	meaningfulDepth, messageDepth := -1, -1
	var walk func(e error, depth int)
	walk = func(e error, depth int) {
		if e == nil {
			return
		}
		switch name := fmt.Sprintf("%T", e); {
		case isWrapper(e, name):
		case name == "*errors.errorString":
			if depth > messageDepth {
				message, messageDepth = name, depth
			}
		default:
			if depth > meaningfulDepth {
				meaningful, meaningfulDepth = name, depth
			}
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap(), depth+1)
		case interface{ Unwrap() []error }:
			for _, inner := range u.Unwrap() {
				walk(inner, depth+1)
			}
		}
	}
	walk(err, 0)
	switch {
	case meaningful != "":
		return meaningful
	case message != "":
		return message
	}
	return fmt.Sprintf("%T", err)
}

// isWrapper reports whether e only adds words to the errors it wraps.
func isWrapper(e error, name string) bool {
	if _, ok := e.(*url.Error); ok {
		return true
	}
	switch name {
	case "*fmt.wrapError", "*fmt.wrapErrors", "*errors.joinError":
		return true
	}
	return false
}

// packagePath is this package's import path, read at run time rather than
// written down, so that a copy of the package in another module, under
// another directory, names its tracers and leaves out its frames right.
var packagePath = reflect.TypeFor[Tracing]().PkgPath()

// callerStack is the goroutine's stack in runtime.Stack's format (which the
// awsxray exporter parses), from the first frame that is not this package's
// own code: its helpers say nothing about the failure.
//
// Go errors carry no stack, so this is the stack of the goroutine that
// records the error, where it records it, not where the error arose: for
// [Capture] the code that called it, for a handler's returned error the
// caller of the invocation; only for a panic does it hold the frames where
// the panic happened.
func callerStack() string {
	buf := make([]byte, 16<<10)
	buf = buf[:runtime.Stack(buf, false)]
	header, frames, _ := strings.Cut(string(buf), "\n")
	lines := strings.Split(frames, "\n")
	// Frames are pairs of lines: function, then file:line.
	skip := 0
	for skip+1 < len(lines) && ownFrame(lines[skip], lines[skip+1]) {
		skip += 2
	}
	return header + "\n" + strings.Join(lines[skip:], "\n")
}

// ownFrame reports whether a frame, its function line and its file line, is
// code of this package. Its tests are not: they are callers, as a user's
// handler is.
func ownFrame(function, file string) bool {
	if !strings.HasPrefix(function, packagePath+".") {
		return false
	}
	if i := strings.LastIndex(file, ".go:"); i >= 0 {
		file = file[:i+len(".go")]
	}
	return !strings.HasSuffix(file, "_test.go")
}

// Start runs handler as the function's Lambda handler, wrapped by [Wrap]. It
// does not return.
//
// Lambda sends SIGTERM before it ends a sandbox only to a function that
// registered an extension during Init: [Setup] begins that registration in
// the background, and shuts the tracing down, flushing what is left, on
// SIGTERM; [Wrap], and so Start, waits for the registration to end before
// the runtime asks for the first invocation, which ends Init. To run code of
// your own on SIGTERM, signal.Notify a channel of your own: each one
// notified receives it.
//
// opts are aws-lambda-go's options: Start gives them to [Wrap] (the decoder
// and encoder options) and to lambda.StartWithOptions (WithContext,
// WithContextValue). lambda.WithEnableSIGTERM is not needed: it would
// register a second extension, one round trip to the Runtime API more in
// every cold start, and run its callbacks in each of Wrap's decoders.
func Start[In, Out any](t *Tracing, handler func(context.Context, In) (Out, error), opts ...lambda.Option) {
	lambda.StartWithOptions(Wrap(t, handler, opts...), opts...)
}
