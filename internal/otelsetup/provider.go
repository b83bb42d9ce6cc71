package otelsetup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	lambdadetector "go.opentelemetry.io/contrib/detectors/aws/lambda"
	"go.opentelemetry.io/contrib/propagators/aws/xray"
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
}

// An Option changes what [Setup] builds.
type Option func(*options)

type options struct {
	exporters    []sdktrace.SpanExporter
	flushTimeout time.Duration
	serviceName  string
}

// WithExporter sends spans to e instead of the exporters that
// OTEL_TRACES_EXPORTER names. Repeat it for several exporters.
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
			sdktrace.WithSampler(sampler),
			// X-Ray keeps a trace only if the first 32 bits of its ID are
			// the epoch second in which it started; spans of traces that
			// begin here (no Lambda header, local runs) need such IDs.
			sdktrace.WithIDGenerator(xray.NewIDGenerator()),
		}
		exporters := o.exporters
		if len(exporters) == 0 {
			exporters, err = exportersFromEnv(ctx, getenv)
			if err != nil {
				return nil, fmt.Errorf("otelsetup: %w", err)
			}
		}
		for _, e := range exporters {
			tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(newInvocationProcessor(e)))
		}
		t.sdk = sdktrace.NewTracerProvider(tpOpts...)
		t.provider = t.sdk
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
	return resource.New(ctx, opts...)
}

// samplerFromEnv reads OTEL_TRACES_SAMPLER. The default follows the sampled
// flag of the parent, which for an invocation is the Sampled= flag of the
// header Lambda passes: X-Ray's sampling rules decide, as with the X-Ray SDK.
func samplerFromEnv(name, arg string) (sdktrace.Sampler, error) {
	ratio := func() (float64, error) {
		if arg == "" {
			return 1, nil
		}
		var r float64
		if _, err := fmt.Sscanf(arg, "%g", &r); err != nil || r < 0 || r > 1 {
			return 0, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG=%q: want a ratio from 0 to 1", arg)
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
	case "traceidratio", "parentbased_traceidratio":
		r, err := ratio()
		if err != nil {
			return nil, err
		}
		if name == "traceidratio" {
			return sdktrace.TraceIDRatioBased(r), nil
		}
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r)), nil
	}
	return nil, fmt.Errorf("OTEL_TRACES_SAMPLER=%q: want always_on, always_off, traceidratio or their parentbased_ forms", name)
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
