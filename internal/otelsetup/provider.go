package otelsetup

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	lambdadetector "go.opentelemetry.io/contrib/detectors/aws/lambda"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// DefaultFlushTimeout bounds the flush at the end of every invocation. The
// collector extension runs on localhost, where a healthy export takes a few
// milliseconds; a second is long enough for a busy extension and short enough
// that a dead one costs each invocation little.
const DefaultFlushTimeout = time.Second

// scopeName names the tracer of the spans this package starts itself: the
// package's import path, wherever the package was copied to.
var scopeName = packagePath

// Tracing is the tracing set up for one Lambda function: a tracer provider
// whose spans X-Ray can take, the propagator for outgoing calls, and the flush
// bound. Build it once per process with [Setup]; every function of this
// package that starts spans takes it, so that nothing depends on the order in
// which globals were set.
type Tracing struct {
	provider trace.TracerProvider
	// sdk is the provider's SDK, which exports and flushes; nil when
	// OTEL_SDK_DISABLED is true.
	sdk          *sdktrace.TracerProvider
	tracer       trace.Tracer
	propagator   propagation.TextMapPropagator
	serviceName  string
	flushTimeout time.Duration
	// extension is the registration that has Lambda send SIGTERM, begun by
	// Setup in a Lambda sandbox and awaited by Wrap (sigterm.go).
	extension *registration
}

// An Option changes what [Setup] builds.
type Option func(*options)

type options struct {
	exporters    []sdktrace.SpanExporter
	flushTimeout time.Duration
	serviceName  string
}

// WithExporter sends spans to e instead of the exporters that
// OTEL_TRACES_EXPORTER names. Repeat it for several exporters. e must be
// safe for concurrent use: concurrent invocations' flushes call its
// ExportSpans in parallel (as otelsetup's own exporters and
// tracetest.InMemoryExporter allow), not one at a time as
// sdktrace.SpanExporter's documentation says.
func WithExporter(e sdktrace.SpanExporter) Option {
	return func(o *options) { o.exporters = append(o.exporters, e) }
}

// WithFlushTimeout sets how long the end of an invocation may wait for its
// spans to be exported ([DefaultFlushTimeout] unless set). The invocation's
// own deadline bounds the wait too.
func WithFlushTimeout(d time.Duration) Option {
	return func(o *options) { o.flushTimeout = d }
}

// WithServiceName sets service.name over OTEL_SERVICE_NAME, for a process
// that runs several functions' handlers, as the local runner does.
func WithServiceName(name string) Option {
	return func(o *options) { o.serviceName = name }
}

// Setup builds the tracing of a Lambda function from the standard environment
// variables (see the package documentation) and installs its tracer provider
// and propagator as OpenTelemetry's globals, for libraries that use them.
//
// An error means the configuration is wrong (an unknown exporter, sampler or
// propagator name); the function should not start with it.
func Setup(ctx context.Context, opts ...Option) (*Tracing, error) {
	o := options{flushTimeout: DefaultFlushTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	getenv := func(name string) string { return strings.TrimSpace(os.Getenv(name)) }

	prop, err := propagatorFromEnv(getenv("OTEL_PROPAGATORS"))
	if err != nil {
		return nil, fmt.Errorf("otelsetup: %w", err)
	}
	res, err := newResource(ctx, getenv, o.serviceName)
	if err != nil {
		return nil, fmt.Errorf("otelsetup: resource: %w", err)
	}

	t := &Tracing{propagator: prop, flushTimeout: o.flushTimeout}
	service, _ := res.Set().Value(semconv.ServiceNameKey)
	t.serviceName = service.AsString()
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		// The API's no-op provider records nothing and hands the parent's
		// span context on unchanged, so calls downstream still carry the
		// invocation's trace header, Sampled flag included, and functions
		// that do trace stay in the same trace.
		t.provider = noop.NewTracerProvider()
	} else {
		sampler, err := samplerFromEnv(getenv("OTEL_TRACES_SAMPLER"), getenv("OTEL_TRACES_SAMPLER_ARG"))
		if err != nil {
			return nil, fmt.Errorf("otelsetup: %w", err)
		}
		tpOpts := []sdktrace.TracerProviderOption{
			sdktrace.WithResource(res),
			// The header's Sampled=? and a header without Parent need
			// more than a span context can say (xrayheader.go).
			sdktrace.WithSampler(headerSampler{sampler}),
			sdktrace.WithIDGenerator(xrayIDGenerator{}),
		}
		var processors []sdktrace.SpanProcessor
		for _, e := range o.exporters {
			processors = append(processors, newInvocationProcessor(e))
		}
		if len(processors) == 0 {
			processors, err = processorsFromEnv(ctx, getenv, os.Stdout)
			if err != nil {
				return nil, fmt.Errorf("otelsetup: %w", err)
			}
		}
		for _, p := range processors {
			tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(p))
		}
		t.sdk = sdktrace.NewTracerProvider(tpOpts...)
		t.provider = t.sdk
		if api := getenv("AWS_LAMBDA_RUNTIME_API"); api != "" {
			t.extension = t.registerExtension(api)
		}
	}
	t.tracer = t.provider.Tracer(scopeName)
	otel.SetTracerProvider(t.provider)
	otel.SetTextMapPropagator(prop)
	return t, nil
}

// newResource describes the function: what the Lambda detector finds in the
// environment, cloud.platform, and service.name (the service annotation of
// every invocation, and the name X-Ray gives a segment made of a root span,
// as in local runs). OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override
// the defaults.
func newResource(ctx context.Context, getenv func(string) string, serviceName string) (*resource.Resource, error) {
	service := getenv("AWS_LAMBDA_FUNCTION_NAME")
	if service == "" {
		// The specification's fallback when nothing names the service.
		service = "unknown_service:" + filepath.Base(os.Args[0])
	}
	opts := []resource.Option{
		resource.WithTelemetrySDK(),
		resource.WithDetectors(lambdadetector.NewResourceDetector()),
		resource.WithAttributes(semconv.CloudPlatformAWSLambda, semconv.ServiceName(service)),
		resource.WithFromEnv(),
	}
	if serviceName != "" {
		opts = append(opts, resource.WithAttributes(semconv.ServiceName(serviceName)))
	}
	return detectResource(ctx, opts...)
}

// detectResource builds the resource that opts describe. Two detection
// errors still leave a resource worth using, and are reported through
// OpenTelemetry's error handler instead of stopping the function:
// resource.ErrPartialResource (a detector found only part of what it looks
// for, such as a pair without a value in OTEL_RESOURCE_ATTRIBUTES) and
// resource.ErrSchemaURLConflict (detectors built on different semantic
// conventions versions, as after a user bumps one OpenTelemetry module but
// not the others; the resource then has no schema URL). resource.New returns
// the resource merged so far with either. Any other error means a detector
// failed outright; none of those used here can.
func detectResource(ctx context.Context, opts ...resource.Option) (*resource.Resource, error) {
	res, err := resource.New(ctx, opts...)
	if errors.Is(err, resource.ErrPartialResource) || errors.Is(err, resource.ErrSchemaURLConflict) {
		otel.Handle(fmt.Errorf("otelsetup: resource: %w", err))
		return res, nil
	}
	return res, err
}

// samplerFromEnv reads OTEL_TRACES_SAMPLER. The default follows the sampled
// flag of the parent, which for an invocation is the Sampled= flag of the
// header Lambda passes: X-Ray's sampling rules decide, as with the X-Ray SDK.
//
// Names are matched case-insensitively, as the specification asks of enum
// values, so ParentBased_TraceIdRatio is parentbased_traceidratio.
//
// OTEL_TRACES_SAMPLER_ARG of the ratio samplers is parsed whole; unset, the
// ratio is 1, the specification's default. The specification would have an
// invalid argument logged and ignored, i.e. a ratio of 1. Here it fails the
// start instead, as every configuration error of this package does: in
// Lambda nobody reads a warning at start, and a typo in "0.05" would
// silently trace (and bill) every invocation instead of one in twenty.
// https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/
func samplerFromEnv(name, arg string) (sdktrace.Sampler, error) {
	ratio := func() (float64, error) {
		if arg == "" {
			return 1, nil
		}
		// ParseFloat takes the whole string, unlike %g, which stops at
		// trailing garbage ("0.5abc"); it also takes NaN, Inf and hex floats,
		// which are no ratio anyone writes.
		r, err := strconv.ParseFloat(arg, 64)
		if err == nil && (strings.ContainsAny(arg, "xX") || math.IsNaN(r) || r < 0 || r > 1) {
			err = errors.New("out of range")
		}
		if err != nil {
			return 0, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG=%q: want a sampling ratio from 0 to 1, such as 0.25, for OTEL_TRACES_SAMPLER=%s: %w", arg, name, err)
		}
		return r, nil
	}
	switch strings.ToLower(name) {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "traceidratio":
		r, err := ratio()
		if err != nil {
			return nil, err
		}
		return sdktrace.TraceIDRatioBased(r), nil
	case "parentbased_traceidratio":
		r, err := ratio()
		if err != nil {
			return nil, err
		}
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r)), nil
	}
	return nil, fmt.Errorf("OTEL_TRACES_SAMPLER=%q: want one of parentbased_always_on (the default), parentbased_always_off, parentbased_traceidratio, always_on, always_off, traceidratio", name)
}

// TracerProvider returns the provider, for instrumentation libraries that take
// one explicitly.
func (t *Tracing) TracerProvider() trace.TracerProvider { return t.provider }

// ServiceName returns the service.name of the resource: the name X-Ray gives
// the function's segments.
func (t *Tracing) ServiceName() string { return t.serviceName }

// Flush exports every finished span, waiting at most the flush timeout and
// never past ctx's deadline less [DeadlineMargin], the time the invocation
// still needs after the flush. It reports failures to OpenTelemetry's error
// handler, never to the caller: a slow or dead collector must not fail the
// work it observes.
func (t *Tracing) Flush(ctx context.Context) {
	if t.sdk == nil {
		return
	}
	bound := t.flushTimeout
	if deadline, ok := ctx.Deadline(); ok {
		bound = min(bound, time.Until(deadline)-DeadlineMargin)
	}
	if bound <= 0 {
		otel.Handle(errors.New("otelsetup: no time left to flush spans before the invocation's deadline less its safety margin"))
		return
	}
	// The flush must run even when the invocation's context was canceled.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bound)
	defer cancel()
	if err := t.sdk.ForceFlush(ctx); err != nil {
		otel.Handle(fmt.Errorf("otelsetup: flush spans within %v: %w", bound, err))
	}
}

// Shutdown flushes and stops the provider. Lambda sends SIGTERM before it
// shuts a sandbox down when an extension is registered; call Shutdown then.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.sdk == nil {
		return nil
	}
	if err := t.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("otelsetup: shutdown: %w", err)
	}
	return nil
}
