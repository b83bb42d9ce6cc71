package otelsetup

import (
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// stubs makes resources × scopes × spans spans, each with a payload,
// interleaving the resources and scopes span by span.
func stubs(resources, scopes, spans, payload int) []sdktrace.ReadOnlySpan {
	var out tracetest.SpanStubs
	res := make([]*resource.Resource, resources)
	for r := range resources {
		res[r] = resource.NewSchemaless(attribute.String("service.name", fmt.Sprint("svc", r)))
	}
	for i := range spans {
		for r := range resources {
			for s := range scopes {
				out = append(out, tracetest.SpanStub{
					Name: fmt.Sprintf("r%d/s%d/%d", r, s, i),
					SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
						TraceID: trace.TraceID{1}, SpanID: trace.SpanID{byte(r), byte(s), byte(i >> 8), byte(i)}, TraceFlags: trace.FlagsSampled,
					}),
					Attributes:           []attribute.KeyValue{attribute.String("payload", strings.Repeat("x", payload))},
					Resource:             res[r],
					InstrumentationScope: instrumentation.Scope{Name: fmt.Sprint("scope", s)},
				})
			}
		}
	}
	return out.Snapshots()
}

func decode(t *testing.T, b []byte) *coltracepb.ExportTraceServiceRequest {
	t.Helper()
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		t.Fatalf("not a request: %v", err)
	}
	return &req
}

func TestSplitSpans(t *testing.T) {
	tests := []struct {
		name                            string
		resources, scopes, spans, bytes int
		limit                           int
		wantBatches                     int // 0: don't check
	}{
		{"fits in one", 1, 1, 10, 100, 48000, 1},
		{"many spans", 1, 1, 1000, 100, 48000, 0},
		{"several resources and scopes", 3, 4, 50, 300, 48000, 0},
		{"tiny limit", 2, 2, 20, 10, 300, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := stubs(tt.resources, tt.scopes, tt.spans, tt.bytes)
			batches, dropped := splitSpans(encodeSpans(in), tt.limit)
			if dropped != 0 {
				t.Fatalf("%d spans dropped", dropped)
			}
			if tt.wantBatches != 0 && len(batches) != tt.wantBatches {
				t.Errorf("%d batches, want %d", len(batches), tt.wantBatches)
			}
			seen := map[string]bool{}
			for i, b := range batches {
				payload := appendRequest(nil, group(b))
				if len(payload) > tt.limit {
					t.Errorf("batch %d is %d bytes, over the limit %d", i, len(payload), tt.limit)
				}
				req := decode(t, payload)
				for _, rs := range req.ResourceSpans {
					for _, ss := range rs.ScopeSpans {
						for _, s := range ss.Spans {
							// Each span keeps its own resource and scope.
							want := fmt.Sprintf("r%s/s%s/", strings.TrimPrefix(rs.Resource.Attributes[0].Value.GetStringValue(), "svc"), strings.TrimPrefix(ss.Scope.Name, "scope"))
							if !strings.HasPrefix(s.Name, want) {
								t.Errorf("span %s filed under %s", s.Name, want)
							}
							if seen[s.Name] {
								t.Errorf("span %s sent twice", s.Name)
							}
							seen[s.Name] = true
						}
					}
				}
			}
			if want := tt.resources * tt.scopes * tt.spans; len(seen) != want {
				t.Fatalf("%d spans out, %d in", len(seen), want)
			}
		})
	}
}

func TestTrimSpan(t *testing.T) {
	stub := tracetest.SpanStub{
		Name:        "big",
		SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}}),
		Events:      []sdktrace.Event{{Name: strings.Repeat("e", 5000)}},
		Links: []sdktrace.Link{{
			SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{2}, SpanID: trace.SpanID{2}}),
			Attributes:  []attribute.KeyValue{attribute.String("l", strings.Repeat("l", 5000))},
		}},
	}
	for i := range 100 {
		stub.Attributes = append(stub.Attributes, attribute.String(fmt.Sprint("k", i), strings.Repeat("v", 3000)))
	}
	big := stub.Snapshot()
	tests := []struct {
		limit                         int
		wantEvents, wantLinks, attrsN int // kept
		wantMark                      bool
		wantValueLen                  int
	}{
		{limit: 1 << 20, wantEvents: 1, wantLinks: 1, attrsN: 100, wantValueLen: 3000},
		{limit: 310_000, wantEvents: 0, wantLinks: 1, attrsN: 101, wantMark: true, wantValueLen: 3000},
		{limit: 305_000, wantEvents: 0, wantLinks: 0, attrsN: 101, wantMark: true, wantValueLen: 3000},
		{limit: 120_000, wantEvents: 0, wantLinks: 0, attrsN: 101, wantMark: true, wantValueLen: 1024},
		{limit: 48_000, wantEvents: 0, wantLinks: 0, attrsN: 32, wantMark: true, wantValueLen: 1024},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.limit), func(t *testing.T) {
			batches, dropped := splitSpans(encodeSpans([]sdktrace.ReadOnlySpan{big}), tt.limit)
			if dropped != 0 || len(batches) != 1 {
				t.Fatalf("%d batches, %d dropped", len(batches), dropped)
			}
			payload := appendRequest(nil, group(batches[0]))
			if len(payload) > tt.limit {
				t.Errorf("request is %d bytes, over %d", len(payload), tt.limit)
			}
			var s *tracepb.Span = decode(t, payload).ResourceSpans[0].ScopeSpans[0].Spans[0]
			if len(s.Events) != tt.wantEvents || len(s.Links) != tt.wantLinks || len(s.Attributes) != tt.attrsN {
				t.Errorf("kept %d events, %d links, %d attributes; want %d, %d, %d", len(s.Events), len(s.Links), len(s.Attributes), tt.wantEvents, tt.wantLinks, tt.attrsN)
			}
			last := s.Attributes[len(s.Attributes)-1]
			if (last.Key == TrimmedAttribute) != tt.wantMark {
				t.Errorf("last attribute %s, want the trimmed mark: %v", last.Key, tt.wantMark)
			}
			if got := len(s.Attributes[0].Value.GetStringValue()); got != tt.wantValueLen {
				t.Errorf("values of %d bytes, want %d", got, tt.wantValueLen)
			}
			if int(s.DroppedEventsCount)+len(s.Events) != 1 || int(s.DroppedLinksCount)+len(s.Links) != 1 {
				t.Errorf("dropped counts do not add up: %d events, %d links", s.DroppedEventsCount, s.DroppedLinksCount)
			}
			kept := len(s.Attributes)
			if tt.wantMark {
				kept--
			}
			if int(s.DroppedAttributesCount)+kept != 100 {
				t.Errorf("dropped attributes %d + kept %d, want 100", s.DroppedAttributesCount, kept)
			}
		})
	}
}

// TestSplitDropsWhatCannotFit: a span whose name alone overflows is
// counted, not sent.
func TestSplitDropsWhatCannotFit(t *testing.T) {
	huge := tracetest.SpanStub{Name: strings.Repeat("n", 2000)}.Snapshot()
	small := stubs(1, 1, 1, 10)[0]
	batches, dropped := splitSpans(encodeSpans([]sdktrace.ReadOnlySpan{huge, small}), 1000)
	if dropped != 1 || len(batches) != 1 || len(batches[0]) != 1 {
		t.Errorf("%d dropped, batches %v; want the huge one dropped, the small one sent", dropped, batches)
	}
}
