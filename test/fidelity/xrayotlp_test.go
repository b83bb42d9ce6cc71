package fidelity

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/xray-tracer/xray-tracer/test/harness"
)

// The xray-otlp path (TraceExport=xray-otlp): the layer's collector runs
// collector-xray-otlp.yaml and sends the spans as OTLP, signed with SigV4, to
// X-Ray's OTLP endpoint, here the stand-in that verifies the signature and
// enforces the endpoint's documented limits. What X-Ray then draws from the
// spans is not public code, so these tests prove what arrives, not the map.

// otlpSpan is a span as the endpoint received it, with its resource.
type otlpSpan struct {
	span     *tracepb.Span
	resource map[string]*commonpb.AnyValue
}

func receivedSpans(reqs []*coltracepb.ExportTraceServiceRequest) []otlpSpan {
	var out []otlpSpan
	for _, req := range reqs {
		for _, rs := range req.GetResourceSpans() {
			res := attrs(rs.GetResource().GetAttributes())
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					out = append(out, otlpSpan{span: s, resource: res})
				}
			}
		}
	}
	return out
}

func attrs(kvs []*commonpb.KeyValue) map[string]*commonpb.AnyValue {
	m := make(map[string]*commonpb.AnyValue, len(kvs))
	for _, kv := range kvs {
		m[kv.GetKey()] = kv.GetValue()
	}
	return m
}

// otlpTraceID writes an X-Ray trace ID (1-xxxxxxxx-yyyy…) as the 16 bytes
// of an OTLP trace ID.
func otlpTraceID(t *testing.T, xray string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimPrefix(xray, "1-"), "-", ""))
	if err != nil || len(b) != 16 {
		t.Fatalf("trace ID %q: not an X-Ray trace ID", xray)
	}
	return b
}

// invocationSpan finds the span of inv's invocation: the one whose parent is
// Lambda's function segment, in the invocation's trace.
func invocationSpan(t *testing.T, spans []otlpSpan, inv harness.Invocation) *otlpSpan {
	t.Helper()
	trace := otlpTraceID(t, inv.TraceID)
	parent, _ := hex.DecodeString(inv.SegmentID)
	for i, s := range spans {
		if bytes.Equal(s.span.GetTraceId(), trace) && bytes.Equal(s.span.GetParentSpanId(), parent) {
			return &spans[i]
		}
	}
	return nil
}

// startXRayOTLPCollector starts the stand-in and the layer's collector
// running collector-xray-otlp.yaml pointed at it, with overrides.
func startXRayOTLPCollector(t *testing.T, ctx context.Context, overrides ...string) *harness.XRayOTLP {
	t.Helper()
	endpoint, err := harness.NewXRayOTLP(harness.Region, harness.Credentials)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = endpoint.Close() })
	col, err := harness.StartCollector(ctx, harness.CollectorConfig{
		Binary:       collectors[harness.CollectorLayer],
		Config:       filepath.Join(repoRoot, "collector-xray-otlp.yaml"),
		Region:       harness.Region,
		OTLPEndpoint: endpoint.URL(),
		Overrides:    overrides,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = col.Close()
		if t.Failed() {
			t.Logf("collector log:\n%s", col.Logs())
		}
	})
	return endpoint
}

func TestXRayOTLPConfigIsValid(t *testing.T) {
	err := harness.ValidateCollectorConfig(context.Background(), harness.CollectorConfig{
		Binary: collectors[harness.CollectorLayer],
		Config: filepath.Join(repoRoot, "collector-xray-otlp.yaml"),
		Region: harness.Region,
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestXRayOTLPEndpoint runs the whole pattern on the xray-otlp path and
// checks what reaches the endpoint: every invocation's spans, signed as the
// endpoint verifies, in the trace Lambda's header named, with the
// annotations listed in aws.xray.annotations, the function's resource, and
// sqs-subscribe's link to the sender's SendMessage span.
func TestXRayOTLPEndpoint(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	endpoint := startXRayOTLPCollector(t, ctx)
	// The AWS services' own segments (API Gateway, SNS, Lambda) still go to
	// PutTraceSegments; only the functions' spans take the OTLP route.
	xray, err := harness.NewXRay()
	if err != nil {
		t.Fatal(err)
	}
	defer xray.Close()

	var out strings.Builder
	cfg := harness.PatternConfig{Bootstraps: bootstraps, XRay: xray, Stderr: &out}
	if testing.Verbose() {
		cfg.Stderr = io.MultiWriter(&out, os.Stderr)
	}
	pat, err := harness.StartPattern(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pat.Close()
	var reqs []harness.Request
	for _, path := range []string{"/", "/hello"} {
		req, err := pat.Request(ctx, path)
		if err != nil {
			t.Fatalf("request %s: %v\nfunctions' output:\n%s", path, err, out.String())
		}
		reqs = append(reqs, req)
	}
	err = endpoint.WaitFor(ctx, func(got []*coltracepb.ExportTraceServiceRequest, _ []harness.OTLPRejection) bool {
		spans := receivedSpans(got)
		for _, r := range reqs {
			for _, inv := range r.Invocations {
				if invocationSpan(t, spans, inv) == nil {
					return false
				}
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("not every invocation's spans reached the endpoint: %v\nfunctions' output:\n%s", err, out.String())
	}
	if rej := endpoint.Rejections(); len(rej) != 0 {
		t.Errorf("the endpoint refused requests: %v", rej)
	}
	spans := receivedSpans(endpoint.Requests())
	byID := map[string]otlpSpan{}
	for _, s := range spans {
		byID[hex.EncodeToString(s.span.GetSpanId())] = s
		// IDs X-Ray takes: a 16-byte trace ID whose first 4 bytes are the
		// epoch second it began (here Lambda's Root), an 8-byte span ID.
		tid, sid := s.span.GetTraceId(), s.span.GetSpanId()
		if len(tid) != 16 || len(sid) != 8 || bytes.Equal(tid, make([]byte, 16)) || bytes.Equal(sid, make([]byte, 8)) {
			t.Errorf("span %q: trace ID %x, span ID %x", s.span.GetName(), tid, sid)
		}
	}

	for _, r := range reqs {
		for _, inv := range r.Invocations {
			t.Run(strings.TrimPrefix(r.Path, "/")+"/"+inv.Function, func(t *testing.T) {
				s := invocationSpan(t, spans, inv)
				if got := s.resource["service.name"].GetStringValue(); got != inv.Function {
					t.Errorf("resource service.name %q, want %q", got, inv.Function)
				}
				listed := s.span.GetAttributes()
				var annotations []string
				for _, v := range attrs(listed)["aws.xray.annotations"].GetArrayValue().GetValues() {
					annotations = append(annotations, v.GetStringValue())
				}
				for _, want := range []string{"ColdStart", "Service"} {
					if !slices.Contains(annotations, want) {
						t.Errorf("aws.xray.annotations %v lacks %s", annotations, want)
					}
					if _, ok := attrs(listed)[want]; !ok {
						t.Errorf("no attribute %s to index", want)
					}
				}
				if inv.Function != "sqs-subscribe" {
					return
				}
				// The record's span links to the sqs function's SendMessage
				// span, in the request's trace.
				linked := false
				for _, other := range spans {
					for _, l := range other.span.GetLinks() {
						if !bytes.Equal(other.span.GetTraceId(), s.span.GetTraceId()) || !bytes.Equal(l.GetTraceId(), otlpTraceID(t, r.TraceID)) {
							continue
						}
						target, ok := byID[hex.EncodeToString(l.GetSpanId())]
						if ok && attrs(target.span.GetAttributes())["aws.operation"].GetStringValue() == "SendMessage" {
							linked = true
						}
					}
				}
				if !linked {
					t.Errorf("no span of sqs-subscribe's trace links to the SendMessage span of trace %s", r.TraceID)
				}
			})
		}
	}
}

// TestXRayOTLPSigning sends one span through the layer's collector with the
// signing configured right and wrong, and checks that the endpoint accepts
// only the first: the stand-in recomputes each signature, so a config that
// signs for another region or service loses every span.
func TestXRayOTLPSigning(t *testing.T) {
	tests := []struct {
		name      string
		overrides []string
		wantCode  string // "" for accepted
	}{
		{name: "as shipped"},
		{name: "another region", overrides: []string{"extensions::sigv4auth::region: us-east-1"}, wantCode: "InvalidSignatureException"},
		{name: "another service", overrides: []string{"extensions::sigv4auth::service: execute-api"}, wantCode: "InvalidSignatureException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			endpoint := startXRayOTLPCollector(t, ctx, tt.overrides...)
			now := time.Now()
			body, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
				ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{
					TraceId: bytes.Repeat([]byte{7}, 16), SpanId: bytes.Repeat([]byte{8}, 8), Name: "signed",
					StartTimeUnixNano: uint64(now.UnixNano()), EndTimeUnixNano: uint64(now.Add(time.Millisecond).UnixNano()),
				}}}},
			}}})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.Post("http://"+harness.OTLPHTTPAddr+"/v1/traces", "application/x-protobuf", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			err = endpoint.WaitFor(ctx, func(got []*coltracepb.ExportTraceServiceRequest, rej []harness.OTLPRejection) bool {
				return len(got)+len(rej) > 0
			})
			if err != nil {
				t.Fatal(err)
			}
			got, rej := endpoint.Requests(), endpoint.Rejections()
			switch {
			case tt.wantCode == "" && (len(got) != 1 || len(rej) != 0):
				t.Errorf("accepted %d, refused %v; want the span accepted", len(got), rej)
			case tt.wantCode != "" && (len(got) != 0 || len(rej) == 0 || rej[0].Code != tt.wantCode):
				t.Errorf("accepted %d, refused %v; want it refused with %s", len(got), rej, tt.wantCode)
			}
			for _, r := range rej {
				t.Logf("the endpoint answered: %v", r)
			}
		})
	}
}
