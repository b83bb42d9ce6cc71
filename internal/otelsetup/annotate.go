package otelsetup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

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
// The rule: key is 1 to 500 characters of a-z, 0-9 and _ (X-Ray indexes
// alphanumeric keys and underscores; lower case keeps one spelling per key),
// and value is a string, a bool, or an integer or floating-point number.
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
func Capture(ctx context.Context, name string, fn func(context.Context) error, opts ...trace.SpanStartOption) error {
	ctx, span := trace.SpanFromContext(ctx).TracerProvider().Tracer(scopeName).Start(ctx, name, opts...)
	defer span.End()
	if err := fn(ctx); err != nil {
		recordError(span, err)
		return err
	}
	span.SetStatus(codes.Ok, "")
	return nil
}

// annotate sets kvs on span and adds their keys to its annotation list. The
// list is read back from the span itself (the SDK's spans expose their
// attributes), so no state is kept beside the span.
func annotate(span trace.Span, kvs ...attribute.KeyValue) {
	if !span.IsRecording() {
		return
	}
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
		if !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '_') {
			return fmt.Errorf("annotation key %q: %q is not one of a-z, 0-9, _: %w", key, r, ErrAnnotation)
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
