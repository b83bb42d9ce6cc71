package otelsetup

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
)

// TestSamplerFromEnv: OTEL_TRACES_SAMPLER is an enum, read case-insensitively
// in every branch; OTEL_TRACES_SAMPLER_ARG is a ratio from 0 to 1 parsed
// whole, and anything else fails the start naming the variable and what it
// takes. Unset, the ratio is the specification's default, 1.
func TestSamplerFromEnv(t *testing.T) {
	parentBased := func(root string) string {
		return "ParentBased{root:" + root + ",remoteParentSampled:AlwaysOnSampler,remoteParentNotSampled:AlwaysOffSampler,localParentSampled:AlwaysOnSampler,localParentNotSampled:AlwaysOffSampler}"
	}
	const argErr = `OTEL_TRACES_SAMPLER_ARG=`
	tests := []struct {
		name, sampler, arg string
		want               string // the sampler's Description
		wantErr            []string
	}{
		{name: "default", want: parentBased("AlwaysOnSampler")},
		{name: "parentbased_always_on", sampler: "parentbased_always_on", want: parentBased("AlwaysOnSampler")},
		{name: "ParentBased_Always_On", sampler: "ParentBased_Always_On", want: parentBased("AlwaysOnSampler")},
		{name: "PARENTBASED_ALWAYS_OFF", sampler: "PARENTBASED_ALWAYS_OFF", want: parentBased("AlwaysOffSampler")},
		{name: "Always_On", sampler: "Always_On", want: "AlwaysOnSampler"},
		{name: "ALWAYS_OFF", sampler: "ALWAYS_OFF", want: "AlwaysOffSampler"},
		{name: "traceidratio", sampler: "traceidratio", arg: "0.25", want: "TraceIDRatioBased{0.25}"},
		{name: "TraceIdRatio", sampler: "TraceIdRatio", arg: "0.25", want: "TraceIDRatioBased{0.25}"},
		{name: "parentbased_traceidratio", sampler: "parentbased_traceidratio", arg: "0.5", want: parentBased("TraceIDRatioBased{0.5}")},
		{name: "ParentBased_TraceIdRatio", sampler: "ParentBased_TraceIdRatio", arg: "0.5", want: parentBased("TraceIDRatioBased{0.5}")},
		{name: "ratio unset is 1", sampler: "traceidratio", want: "TraceIDRatioBased{1}"},
		{name: "ratio 0", sampler: "traceidratio", arg: "0", want: "TraceIDRatioBased{0}"},
		{name: "ratio 1", sampler: "traceidratio", arg: "1", want: "TraceIDRatioBased{1}"},
		{name: "ratio in exponent form", sampler: "traceidratio", arg: "5e-2", want: "TraceIDRatioBased{0.05}"},
		{name: "arg of a sampler that takes none is ignored", sampler: "always_on", arg: "abc", want: "AlwaysOnSampler"},
		{name: "trailing garbage", sampler: "traceidratio", arg: "0.5abc", wantErr: []string{argErr + `"0.5abc"`, "0 to 1"}},
		{name: "two numbers", sampler: "traceidratio", arg: "0.5 0.6", wantErr: []string{argErr + `"0.5 0.6"`}},
		{name: "percent", sampler: "parentbased_traceidratio", arg: "10%", wantErr: []string{argErr + `"10%"`}},
		{name: "NaN", sampler: "traceidratio", arg: "NaN", wantErr: []string{argErr + `"NaN"`}},
		{name: "Inf", sampler: "traceidratio", arg: "+Inf", wantErr: []string{argErr + `"+Inf"`}},
		{name: "above 1", sampler: "traceidratio", arg: "1.5", wantErr: []string{argErr + `"1.5"`}},
		{name: "negative", sampler: "traceidratio", arg: "-0.1", wantErr: []string{argErr + `"-0.1"`}},
		{name: "hexadecimal", sampler: "traceidratio", arg: "0x1p-2", wantErr: []string{argErr + `"0x1p-2"`}},
		{name: "unknown sampler", sampler: "xray", wantErr: []string{`OTEL_TRACES_SAMPLER="xray"`, "always_on", "parentbased_traceidratio"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := samplerFromEnv(tt.sampler, tt.arg)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("samplerFromEnv(%q, %q) = %s, want an error", tt.sampler, tt.arg, s.Description())
				}
				for _, want := range tt.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not contain %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("samplerFromEnv(%q, %q): %v", tt.sampler, tt.arg, err)
			}
			if got := s.Description(); got != tt.want {
				t.Errorf("samplerFromEnv(%q, %q) = %s, want %s", tt.sampler, tt.arg, got, tt.want)
			}
		})
	}
}

// handled collects what reaches OpenTelemetry's error handler during the test.
func handled(t *testing.T) func() []error {
	t.Helper()
	var (
		mu   sync.Mutex
		errs []error
	)
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err)
	}))
	t.Cleanup(func() { otel.SetErrorHandler(prev) })
	return func() []error {
		mu.Lock()
		defer mu.Unlock()
		return append([]error(nil), errs...)
	}
}

// schemaDetector stands for a module that moved to another semantic
// conventions version than the rest: its resource has another schema URL.
type schemaDetector struct{ url string }

func (d schemaDetector) Detect(context.Context) (*resource.Resource, error) {
	return resource.NewWithAttributes(d.url, attribute.String("detected.by", "bumped module")), nil
}

// TestResourceDetectionErrorsDoNotStopTheFunction: a detector that finds
// only part of what it looks for, or two detectors that disagree on the
// schema URL, leave a usable resource. The error is reported through
// OpenTelemetry's error handler, start-up goes on, and what was detected is
// kept.
func TestResourceDetectionErrorsDoNotStopTheFunction(t *testing.T) {
	getenv := func(name string) string { return strings.TrimSpace(os.Getenv(name)) }
	tests := []struct {
		name    string
		env     map[string]string
		detect  func() (*resource.Resource, error)
		wantErr error
		want    map[string]string
	}{
		{
			name: "partial resource: a pair without a value in OTEL_RESOURCE_ATTRIBUTES",
			env:  map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "team=core,broken"},
			detect: func() (*resource.Resource, error) {
				return newResource(context.Background(), getenv, "")
			},
			wantErr: resource.ErrPartialResource,
			want:    map[string]string{"team": "core", "service.name": "orders-fn", "faas.name": "orders-fn"},
		},
		{
			name: "schema URL conflict: one module bumped",
			detect: func() (*resource.Resource, error) {
				return detectResource(context.Background(),
					resource.WithTelemetrySDK(),
					resource.WithDetectors(schemaDetector{"https://opentelemetry.io/schemas/1.99.0"}))
			},
			wantErr: resource.ErrSchemaURLConflict,
			want:    map[string]string{"detected.by": "bumped module", "telemetry.sdk.language": "go"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("AWS_LAMBDA_FUNCTION_NAME", "orders-fn")
			t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			reported := handled(t)
			res, err := tt.detect()
			if err != nil {
				t.Fatalf("resource detection returned %v, want it reported and the resource used", err)
			}
			for k, v := range tt.want {
				if got, _ := res.Set().Value(attribute.Key(k)); got.AsString() != v {
					t.Errorf("resource %s = %q, want %q", k, got.AsString(), v)
				}
			}
			errs := reported()
			if len(errs) != 1 || !errors.Is(errs[0], tt.wantErr) {
				t.Errorf("error handler got %v, want one error that is %v", errs, tt.wantErr)
			}
		})
	}

	t.Run("Setup goes on with a partial resource", func(t *testing.T) {
		t.Setenv("AWS_LAMBDA_FUNCTION_NAME", "orders-fn")
		t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "team=core,broken")
		t.Setenv("OTEL_TRACES_EXPORTER", "none")
		reported := handled(t)
		tr, err := Setup(context.Background())
		if err != nil {
			t.Fatalf("Setup: %v, want the partial resource reported and used", err)
		}
		defer tr.Shutdown(context.Background())
		if tr.ServiceName() != "orders-fn" {
			t.Errorf("ServiceName() = %q, want orders-fn", tr.ServiceName())
		}
		// The SDK's WithResource reads OTEL_RESOURCE_ATTRIBUTES once more
		// and reports the same error itself.
		errs := reported()
		for _, err := range errs {
			if !errors.Is(err, resource.ErrPartialResource) {
				t.Errorf("error handler got %v, want only the partial resource error", err)
			}
		}
		if len(errs) == 0 {
			t.Error("the partial resource error was not reported")
		}
	})
}
