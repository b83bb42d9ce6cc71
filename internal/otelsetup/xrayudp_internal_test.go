package otelsetup

import (
	"fmt"
	"strings"
	"testing"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
)

func strAttr(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

// request builds resources × scopes × spans spans, each with a payload.
func request(resources, scopes, spans, payload int) []*tracepb.ResourceSpans {
	var rss []*tracepb.ResourceSpans
	for r := range resources {
		rs := &tracepb.ResourceSpans{Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{strAttr("service.name", fmt.Sprint("svc", r))}}}
		for s := range scopes {
			ss := &tracepb.ScopeSpans{Scope: &commonpb.InstrumentationScope{Name: fmt.Sprint("scope", s)}}
			for i := range spans {
				ss.Spans = append(ss.Spans, &tracepb.Span{
					Name:       fmt.Sprintf("r%d/s%d/%d", r, s, i),
					TraceId:    make([]byte, 16),
					SpanId:     make([]byte, 8),
					Attributes: []*commonpb.KeyValue{strAttr("payload", strings.Repeat("x", payload))},
				})
			}
			rs.ScopeSpans = append(rs.ScopeSpans, ss)
		}
		rss = append(rss, rs)
	}
	return rss
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
			in := request(tt.resources, tt.scopes, tt.spans, tt.bytes)
			batches := splitSpans(in, tt.limit)
			if tt.wantBatches != 0 && len(batches) != tt.wantBatches {
				t.Errorf("%d batches, want %d", len(batches), tt.wantBatches)
			}
			var names []string
			for i, b := range batches {
				size := proto.Size(&coltracepb.ExportTraceServiceRequest{ResourceSpans: b})
				if size > tt.limit {
					t.Errorf("batch %d is %d bytes, over the limit %d", i, size, tt.limit)
				}
				for _, rs := range b {
					for _, ss := range rs.ScopeSpans {
						for _, s := range ss.Spans {
							// Each span keeps its own resource and scope.
							want := fmt.Sprintf("r%s/s%s/", strings.TrimPrefix(rs.Resource.Attributes[0].Value.GetStringValue(), "svc"), strings.TrimPrefix(ss.Scope.Name, "scope"))
							if !strings.HasPrefix(s.Name, want) {
								t.Errorf("span %s filed under %s", s.Name, want)
							}
							names = append(names, s.Name)
						}
					}
				}
			}
			if want := tt.resources * tt.scopes * tt.spans; len(names) != want {
				t.Fatalf("%d spans out, %d in", len(names), want)
			}
			// In order.
			i := 0
			for r := range tt.resources {
				for s := range tt.scopes {
					for n := range tt.spans {
						if want := fmt.Sprintf("r%d/s%d/%d", r, s, n); names[i] != want {
							t.Fatalf("span %d is %s, want %s", i, names[i], want)
						}
						i++
					}
				}
			}
		})
	}
}

func TestTrimSpan(t *testing.T) {
	big := &tracepb.Span{
		Name:   "big",
		Events: []*tracepb.Span_Event{{Name: strings.Repeat("e", 5000)}},
		Links:  []*tracepb.Span_Link{{TraceState: strings.Repeat("l", 5000)}},
	}
	for i := range 100 {
		big.Attributes = append(big.Attributes, strAttr(fmt.Sprint("k", i), strings.Repeat("v", 3000)))
	}
	tests := []struct {
		limit                         int
		wantEvents, wantLinks, attrsN int // kept
	}{
		{limit: 1 << 20, wantEvents: 1, wantLinks: 1, attrsN: 101},
		{limit: 300_000, wantEvents: 0, wantLinks: 0, attrsN: 101},
		{limit: 120_000, wantEvents: 0, wantLinks: 0, attrsN: 101}, // values cut to 1 KiB
		{limit: 48_000, wantEvents: 0, wantLinks: 0, attrsN: 32},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.limit), func(t *testing.T) {
			s := trimSpan(big, tt.limit)
			if fieldSize(proto.Size(s)) > tt.limit {
				t.Errorf("trimmed span is %d bytes, over %d", proto.Size(s), tt.limit)
			}
			if len(s.Events) != tt.wantEvents || len(s.Links) != tt.wantLinks || len(s.Attributes) != tt.attrsN {
				t.Errorf("kept %d events, %d links, %d attributes; want %d, %d, %d", len(s.Events), len(s.Links), len(s.Attributes), tt.wantEvents, tt.wantLinks, tt.attrsN)
			}
			if last := s.Attributes[len(s.Attributes)-1]; last.Key != TrimmedAttribute {
				t.Errorf("the trimmed span is not marked")
			}
			if int(s.DroppedEventsCount)+len(s.Events) != 1 || int(s.DroppedAttributesCount)+len(s.Attributes) != 101 {
				t.Errorf("dropped counts do not add up: %d events, %d attributes", s.DroppedEventsCount, s.DroppedAttributesCount)
			}
			if len(big.Attributes) != 100 || len(big.Events) != 1 {
				t.Errorf("trimSpan changed its input")
			}
		})
	}
}
