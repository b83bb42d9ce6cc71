package otelsetup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// AnnotationsKey is the span attribute that lists which of the span's other
// attributes X-Ray indexes as annotations. The awsxray exporter reads it per
// span; every attribute not listed there lands in the segment's metadata.
const AnnotationsKey = attribute.Key("aws.xray.annotations")

// ErrAnnotation is wrapped by the errors of [PutAnnotation].
var ErrAnnotation = errors.New("not an X-Ray annotation")

// PutAnnotation records key=value on the span in ctx as an X-Ray annotation,
// which trace search can filter on (annotation.key = value).
//
// The rule: key is 1 to 500 characters of A-Z, a-z, 0-9 and _ (X-Ray
// indexes only alphanumeric keys and underscores, and tells upper from lower
// case: ColdStart, as Powertools names it, is not coldstart), and value is a
// string, a bool, or an integer or floating-point number.
// Anything else is recorded as metadata instead, so nothing is lost, and
// the error says why. At most 50 annotations per trace are indexed by X-Ray.
func PutAnnotation(ctx context.Context, key string, value any) error {
	span := trace.SpanFromContext(ctx)
	if err := checkAnnotationKey(key); err != nil {
		PutMetadata(ctx, key, value)
		return err
	}
	kv, ok := scalarAttribute(key, value)
	if !ok {
		PutMetadata(ctx, key, value)
		return fmt.Errorf("annotation %q: value of type %T: %w (want string, bool or number)", key, value, ErrAnnotation)
	}
	annotate(span, kv)
	return nil
}

// PutMetadata records key=value on the span in ctx as X-Ray metadata: kept
// with the segment and shown in the console, not indexed. Strings, bools and
// numbers are recorded as they are; other values as their JSON.
func PutMetadata(ctx context.Context, key string, value any) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	if kv, ok := scalarAttribute(key, value); ok {
		span.SetAttributes(kv)
		return
	}
	b, err := json.Marshal(value)
	if err != nil {
		span.SetAttributes(attribute.String(key, fmt.Sprintf("%+v", value)))
		return
	}
	span.SetAttributes(attribute.String(key, string(b)))
}

// Capture runs fn in a span named name, a child of the span in ctx, and
// returns fn's error after recording it on the span. It is how a handler
// records a business step as its own X-Ray subsegment.
//
// The recorded error's type is the most specific meaningful one in its chain
// (a *types.ResourceNotFoundException rather than the *fmt.wrapError around
// it). Its stack is the one where Capture records it, from the code that
// called Capture: Go errors carry no stack of where they arose, so a step is
// also the finest place a stack can point to. A panic in fn is recorded with
// the stack where it happened, and goes on.
func Capture(ctx context.Context, name string, fn func(context.Context) error, opts ...trace.SpanStartOption) (err error) {
	ctx, span := trace.SpanFromContext(ctx).TracerProvider().Tracer(scopeName).Start(ctx, name, opts...)
	defer func() {
		if r := recover(); r != nil {
			recordPanic(span, r)
			span.End()
			panic(r)
		}
		if err != nil {
			recordError(span, err)
		} else {
			span.SetStatus(codes.Ok, "")
		}
		span.End()
	}()
	return fn(ctx)
}

// annotationsMu guards the read, change and write of a span's annotation
// list. The list lives only in the span: the SDK guards each SetAttributes
// call, but offers no hook to keep state beside a span and no way to change
// an attribute in place, so two goroutines annotating one span (a handler
// that fans out) would each read the list, add their key and write it back,
// and the last write would drop the other's key. Only a lock of this package
// can guard that; one for all spans is enough, as it is held only while one
// span's attributes are read and written.
var annotationsMu sync.Mutex

// annotate sets kvs on span and adds their keys to its annotation list. The
// list is read back from the span itself (the SDK's spans expose their
// attributes), so no state is kept beside the span.
func annotate(span trace.Span, kvs ...attribute.KeyValue) {
	if !span.IsRecording() {
		return
	}
	annotationsMu.Lock()
	defer annotationsMu.Unlock()
	var keys []string
	if s, ok := span.(interface{ Attributes() []attribute.KeyValue }); ok {
		for _, kv := range s.Attributes() {
			if kv.Key == AnnotationsKey {
				keys = kv.Value.AsStringSlice()
			}
		}
	}
	listed := len(keys)
	for _, kv := range kvs {
		if !slices.Contains(keys, string(kv.Key)) {
			keys = append(keys, string(kv.Key))
		}
	}
	if len(keys) == listed {
		// Every key is listed already: only the values change.
		span.SetAttributes(kvs...)
		return
	}
	span.SetAttributes(append(kvs, AnnotationsKey.StringSlice(keys))...)
}

func checkAnnotationKey(key string) error {
	if key == "" || len(key) > 500 {
		return fmt.Errorf("annotation key %q: want 1 to 500 characters: %w", key, ErrAnnotation)
	}
	for _, r := range key {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_') {
			return fmt.Errorf("annotation key %q: %q is not one of A-Z, a-z, 0-9, _: %w", key, r, ErrAnnotation)
		}
	}
	return nil
}

// scalarAttribute converts the value types X-Ray can index.
func scalarAttribute(key string, value any) (attribute.KeyValue, bool) {
	k := attribute.Key(key)
	switch v := value.(type) {
	case string:
		return k.String(v), true
	case bool:
		return k.Bool(v), true
	case int:
		return k.Int(v), true
	case int8:
		return k.Int64(int64(v)), true
	case int16:
		return k.Int64(int64(v)), true
	case int32:
		return k.Int64(int64(v)), true
	case int64:
		return k.Int64(v), true
	case uint8:
		return k.Int64(int64(v)), true
	case uint16:
		return k.Int64(int64(v)), true
	case uint32:
		return k.Int64(int64(v)), true
	case float32:
		return k.Float64(float64(v)), true
	case float64:
		return k.Float64(v), true
	}
	return attribute.KeyValue{}, false
}
