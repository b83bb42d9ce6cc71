package otelsetup_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/codes"

	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest"
)

func TestPutAnnotation(t *testing.T) {
	tests := []struct {
		name        string
		key         string
		value       any
		wantErr     bool
		wantAnnot   any    // the annotation's value, nil for none
		wantMetaStr string // the attribute's value as metadata when not an annotation
	}{
		{"string", "path", "/orders/42", false, "/orders/42", ""},
		{"bool", "cold_start", true, false, true, ""},
		{"int", "retries", 3, false, int64(3), ""},
		{"uint32", "size", uint32(7), false, int64(7), ""},
		{"float", "ratio", 0.25, false, 0.25, ""},
		{"digits and underscore", "http_2xx", "ok", false, "ok", ""},
		{"upper case key", "ColdStart", true, false, true, ""},
		{"mixed case and digits", "Order_ID2", "x", false, "x", ""},
		{"dotted key", "aws.path", "/", true, nil, "/"},
		{"space in key", "my key", "/", true, nil, "/"},
		{"empty key", "", "x", true, nil, ""},
		{"slice value", "tags", []string{"a", "b"}, true, nil, `["a","b"]`},
		{"struct value", "order", struct{ ID int }{42}, true, nil, `{"ID":42}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, exp := otelsetuptest.New(t)
			ctx, span := tr.TracerProvider().Tracer("test").Start(context.Background(), "step")
			err := otelsetup.PutAnnotation(ctx, tt.key, tt.value)
			span.End()
			tr.Flush(context.Background())

			if (err != nil) != tt.wantErr || (err != nil && !errors.Is(err, otelsetup.ErrAnnotation)) {
				t.Fatalf("error = %v, want error %v wrapping ErrAnnotation", err, tt.wantErr)
			}
			s := otelsetuptest.One(t, exp.GetSpans(), "step")
			got := otelsetuptest.Annotations(s)
			if tt.wantAnnot != nil && got[tt.key] != tt.wantAnnot {
				t.Errorf("annotations = %v, want %s=%v", got, tt.key, tt.wantAnnot)
			}
			if tt.wantAnnot == nil {
				if len(got) != 0 {
					t.Errorf("annotations = %v, want none", got)
				}
				// Nothing is lost: the value is kept as metadata.
				if v, ok := otelsetuptest.Attr(s, tt.key); tt.wantMetaStr != "" && (!ok || v.String() != tt.wantMetaStr) {
					t.Errorf("metadata %s = %q, want %q", tt.key, v.String(), tt.wantMetaStr)
				}
			}
		})
	}
}

func TestPutAnnotationKeepsOneListPerSpan(t *testing.T) {
	tr, exp := otelsetuptest.New(t)
	ctx, span := tr.TracerProvider().Tracer("test").Start(context.Background(), "step")
	for _, kv := range []struct {
		k string
		v any
	}{{"a", 1}, {"b", "x"}, {"a", 2}, {"c", true}} {
		if err := otelsetup.PutAnnotation(ctx, kv.k, kv.v); err != nil {
			t.Fatal(err)
		}
	}
	otelsetup.PutMetadata(ctx, "note", "not indexed")
	span.End()
	tr.Flush(context.Background())

	s := otelsetuptest.One(t, exp.GetSpans(), "step")
	if got := otelsetuptest.AnnotationKeys(s); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("annotation list = %v, want [a b c] once each", got)
	}
	if got := otelsetuptest.Annotations(s)["a"]; got != int64(2) {
		t.Errorf("a = %v, want the last value 2", got)
	}
	if v, _ := otelsetuptest.Attr(s, "note"); v.AsString() != "not indexed" {
		t.Errorf("metadata note = %q", v.AsString())
	}
}

func TestCapture(t *testing.T) {
	tr, exp := otelsetuptest.New(t)
	ctx, parent := tr.TracerProvider().Tracer("test").Start(context.Background(), "invocation")
	errStep := errors.New("step failed")
	_ = otelsetup.Capture(ctx, "ok step", func(context.Context) error { return nil })
	err := otelsetup.Capture(ctx, "bad step", func(ctx context.Context) error {
		return otelsetup.Capture(ctx, "inner", func(context.Context) error { return errStep })
	})
	parent.End()
	tr.Flush(context.Background())

	if !errors.Is(err, errStep) {
		t.Errorf("Capture returned %v, want the step's error", err)
	}
	want := "invocation internal\n  ok step internal\n  bad step internal ERROR\n    inner internal ERROR\n"
	if got := otelsetuptest.Tree(exp.GetSpans()); got != want {
		t.Errorf("tree:\n%s\nwant:\n%s", got, want)
	}
	if s := otelsetuptest.One(t, exp.GetSpans(), "ok step"); s.Status.Code != codes.Ok {
		t.Errorf("ok step status = %v", s.Status.Code)
	}
	assertException(t, otelsetuptest.One(t, exp.GetSpans(), "bad step"), "step failed")
}

func TestAnnotationsOnUnsampledSpanAreNoOps(t *testing.T) {
	// No span in the context: nothing to record on, nothing must break.
	if err := otelsetup.PutAnnotation(context.Background(), "path", "/"); err != nil {
		t.Errorf("PutAnnotation without a span: %v", err)
	}
	otelsetup.PutMetadata(context.Background(), "k", map[string]int{"a": 1})
}

// TestConcurrentAnnotationsAreAllListed: goroutines that annotate one span
// at the same time (a handler fanning out) each keep their key in the span's
// annotation list, which is read, changed and written back per call.
func TestConcurrentAnnotationsAreAllListed(t *testing.T) {
	tr, exp := otelsetuptest.New(t)
	ctx, span := tr.TracerProvider().Tracer("test").Start(context.Background(), "step")
	const goroutines, keys = 32, 20
	var want []string
	var wg sync.WaitGroup
	for g := range goroutines {
		for k := range keys {
			want = append(want, fmt.Sprintf("k%02d_%02d", g, k))
		}
		wg.Go(func() {
			for k := range keys {
				if err := otelsetup.PutAnnotation(ctx, fmt.Sprintf("k%02d_%02d", g, k), k); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	span.End()
	tr.Flush(context.Background())

	s := otelsetuptest.One(t, exp.GetSpans(), "step")
	got := otelsetuptest.AnnotationKeys(s)
	if !slices.Equal(got, want) {
		missing := 0
		for _, k := range want {
			if !slices.Contains(got, k) {
				missing++
			}
		}
		t.Errorf("annotation list has %d keys, want %d: %d lost", len(got), len(want), missing)
	}
}

// TestCaptureRecordsWhereTheStepFailed: Capture records the error with the
// stack of the step, whose first frame is the code that called Capture, not
// this package; a panic in the step is recorded on the step's span with the
// stack where it happened, and goes on.
func TestCaptureRecordsWhereTheStepFailed(t *testing.T) {
	tests := []struct {
		name      string
		step      func(context.Context) error
		wantType  string
		wantFrame string // the first frame of the stack
		wantPanic bool
	}{
		{"returned error", failingStep, "*errors.errorString", "_test.captureStep(", false},
		{"panic", panickingStep, "string", "panic(", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, exp := otelsetuptest.New(t)
			ctx, parent := tr.TracerProvider().Tracer("test").Start(context.Background(), "invocation")
			recovered := captureStep(ctx, tt.step)
			parent.End()
			tr.Flush(context.Background())

			if (recovered != nil) != tt.wantPanic {
				t.Fatalf("recovered %v, want a panic %v", recovered, tt.wantPanic)
			}
			step := otelsetuptest.One(t, exp.GetSpans(), "step")
			if step.Status.Code != codes.Error {
				t.Errorf("step status = %v, want error", step.Status.Code)
			}
			typ, _, stack := exception(t, step)
			if typ != tt.wantType {
				t.Errorf("exception.type = %s, want %s", typ, tt.wantType)
			}
			lines := strings.Split(stack, "\n")
			// The frame's package is this test package, under whatever
			// path the package was copied to.
			if len(lines) < 2 || !strings.Contains(lines[1], tt.wantFrame) {
				t.Errorf("stack starts at %q, want %q:\n%s", lines[min(1, len(lines)-1)], tt.wantFrame, stack)
			}
			if tt.wantPanic && !strings.Contains(stack, "_test.panickingStep(") {
				t.Errorf("stack does not show where the step panicked:\n%s", stack)
			}
		})
	}
}

func captureStep(ctx context.Context, step func(context.Context) error) (recovered any) {
	defer func() { recovered = recover() }()
	_ = otelsetup.Capture(ctx, "step", step)
	return nil
}

func failingStep(context.Context) error { return errors.New("step failed") }

func panickingStep(context.Context) error { panic("step broke") }
