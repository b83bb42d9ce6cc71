package otelsetup

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Headers as AWS services pass them. Lineage comes in two forms: Lambda's
// recursive loop detection writes "<counter>:<hash>:<n>" today
// (Lineage=1:fe460cdd:0) and "hash:count|hash:count" before (the X-Ray SDK
// for Java's pull request 409 logs both kinds of header from real
// functions); load balancers add Self=.
const (
	lambdaHeader = "Root=1-674a8c00-5759e988bd862e3fe1be46a9;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=1:fe460cdd:0"
	wantTrace    = "674a8c005759e988bd862e3fe1be46a9"
	wantParent   = "53995c3f42cd8ad8"
)

func TestParseTraceHeader(t *testing.T) {
	tests := []struct {
		name    string
		header  string
		parent  string // "" for none
		sampled byte
		extra   string
	}{
		{"Lambda with Lineage", lambdaHeader, wantParent, '1', "Lineage=1:fe460cdd:0"},
		{"older Lineage", "Root=1-674a8c00-5759e988bd862e3fe1be46a9;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=a87bd80c:1|68fd508a:5", wantParent, '0', "Lineage=a87bd80c:1|68fd508a:5"},
		{"Self from a load balancer", "Self=1-67891234-def;Root=1-674a8c00-5759e988bd862e3fe1be46a9;Parent=53995c3f42cd8ad8;Sampled=1", wantParent, '1', "Self=1-67891234-def"},
		{"deferred", "Root=1-674a8c00-5759e988bd862e3fe1be46a9;Parent=53995c3f42cd8ad8;Sampled=?", wantParent, '?', ""},
		{"no Sampled", "Root=1-674a8c00-5759e988bd862e3fe1be46a9;Parent=53995c3f42cd8ad8", wantParent, 0, ""},
		{"PassThrough: Root alone", "Root=1-674a8c00-5759e988bd862e3fe1be46a9", "", 0, ""},
		{"Root and Lineage", "Root=1-674a8c00-5759e988bd862e3fe1be46a9;Lineage=1:fe460cdd:0", "", 0, "Lineage=1:fe460cdd:0"},
		{"spaces after ;", "Root=1-674a8c00-5759e988bd862e3fe1be46a9; Parent=53995c3f42cd8ad8; Sampled=1; Lineage=1:fe460cdd:0", wantParent, '1', "Lineage=1:fe460cdd:0"},
		{"spaces around =", "Root = 1-674a8c00-5759e988bd862e3fe1be46a9 ;Parent= 53995c3f42cd8ad8;Sampled =1", wantParent, '1', ""},
		{"trailing ;", lambdaHeader + ";", wantParent, '1', "Lineage=1:fe460cdd:0"},
		{"fields in another order", "Sampled=1;Parent=53995c3f42cd8ad8;Root=1-674a8c00-5759e988bd862e3fe1be46a9", wantParent, '1', ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := parseTraceHeader(tt.header)
			if err != nil {
				t.Fatalf("parseTraceHeader(%q): %v", tt.header, err)
			}
			if h.traceID.String() != wantTrace {
				t.Errorf("Root = %s, want %s", h.traceID, wantTrace)
			}
			parent := ""
			if h.parentID.IsValid() {
				parent = h.parentID.String()
			}
			if parent != tt.parent || h.sampled != tt.sampled || h.extra != tt.extra {
				t.Errorf("Parent, Sampled, extra = %q, %q, %q; want %q, %q, %q", parent, h.sampled, h.extra, tt.parent, tt.sampled, tt.extra)
			}
		})
	}
}

func TestParseTraceHeaderRejects(t *testing.T) {
	for _, header := range []string{
		"",
		"Parent=53995c3f42cd8ad8;Sampled=1",
		"Root=not-a-trace;Parent=53995c3f42cd8ad8;Sampled=1",
		"Root=2-674a8c00-5759e988bd862e3fe1be46a9",
		"Root=1-674a8c00-5759e988bd862e3fe1be46a",
		"Root=1-674a8c0-05759e988bd862e3fe1be46a9",
		"Root=1-00000000-000000000000000000000000",
		"Root=1-674a8c00-5759e988bd862e3fe1be46a9;Parent=zz",
		"Root=1-674a8c00-5759e988bd862e3fe1be46a9;Parent=53995c3f42cd8ad",
		"Root=1-674a8c00-5759e988bd862e3fe1be46a9;Parent=0000000000000000",
		"Root=1-674a8c00-5759e988bd862e3fe1be46a9;Sampled=yes",
		"Root=1-674a8c00-5759e988bd862e3fe1be46a9;garbage",
		"Root=1-674a8c00-5759e988bd862e3fe1be46a9;=x",
		"Root=1-674a8c00-5759e988bd862e3fe1be46a9;Lineage=1:fe460cdd:0\r\nX-Injected: 1",
		"Root=1-674a8c00-5759e988bd862e3fe1be46a9;Lineage=\x00",
		"Root=1-674a8c00-5759e988bd862e3fe1be46a9;Lineage=é",
	} {
		if h, err := parseTraceHeader(header); !errors.Is(err, errTraceHeader) {
			t.Errorf("parseTraceHeader(%q) = %+v, %v; want an error", header, h, err)
		}
	}
}

// TestTraceHeaderRoundTrip: what parse reads, String writes back in AWS's
// order, the other fields as they arrived.
func TestTraceHeaderRoundTrip(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{lambdaHeader, lambdaHeader},
		{"Root=1-674a8c00-5759e988bd862e3fe1be46a9", "Root=1-674a8c00-5759e988bd862e3fe1be46a9"},
		{"Root=1-674a8c00-5759e988bd862e3fe1be46a9; Sampled=?", "Root=1-674a8c00-5759e988bd862e3fe1be46a9;Sampled=?"},
		{"Self=1-67891234-def;Root=1-674a8c00-5759e988bd862e3fe1be46a9;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=1:fe460cdd:0",
			"Root=1-674a8c00-5759e988bd862e3fe1be46a9;Parent=53995c3f42cd8ad8;Sampled=1;Self=1-67891234-def;Lineage=1:fe460cdd:0"},
	} {
		h, err := parseTraceHeader(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := h.String(); got != tt.want {
			t.Errorf("String of %q = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestXRayPropagatorAgreesWithContrib compares the propagator with the
// contrib X-Ray propagator it replaces, on every header both accept: the
// same remote span context (trace, parent, sampled for 1 and 0) out of
// Extract, and the same header out of Inject when there are no other fields.
func TestXRayPropagatorAgreesWithContrib(t *testing.T) {
	var headers []string
	for _, root := range []string{"Root=1-674a8c00-5759e988bd862e3fe1be46a9", "Root=1-5759e988-bd862e3fe1be46a994272793", "Root=1-00000000-00000000000000000000000a"} {
		for _, parent := range []string{"", ";Parent=53995c3f42cd8ad8", ";Parent=0000000000000001", ";Parent=ffffffffffffffff"} {
			for _, sampled := range []string{"", ";Sampled=1", ";Sampled=0", ";Sampled=?"} {
				for _, extra := range []string{"", ";Lineage=1:fe460cdd:0", ";Lineage=a87bd80c:1|68fd508a:5", ";Self=1-67891234-def"} {
					headers = append(headers, root+parent+sampled+extra)
					headers = append(headers, parent+sampled+";"+root+extra)
				}
			}
		}
	}
	both := 0
	for _, header := range headers {
		carrier := propagation.MapCarrier{traceHeaderName: header}
		theirs := trace.SpanContextFromContext(xray.Propagator{}.Extract(context.Background(), carrier))
		ours := trace.SpanContextFromContext(XRayPropagator{}.Extract(context.Background(), carrier))
		if !theirs.IsValid() || !ours.IsValid() {
			continue
		}
		both++
		h, _ := parseTraceHeader(header)
		if ours.TraceID() != theirs.TraceID() || ours.SpanID() != theirs.SpanID() || !ours.IsRemote() {
			t.Errorf("%q: extracted %s/%s, contrib %s/%s", header, ours.TraceID(), ours.SpanID(), theirs.TraceID(), theirs.SpanID())
		}
		if !h.deferred() && ours.IsSampled() != theirs.IsSampled() {
			t.Errorf("%q: sampled %v, contrib %v", header, ours.IsSampled(), theirs.IsSampled())
		}
		// Inject from a span of this process under the extracted parent.
		local := trace.ContextWithSpanContext(context.Background(), ours.WithRemote(false))
		out, want := propagation.MapCarrier{}, propagation.MapCarrier{}
		XRayPropagator{}.Inject(local, out)
		xray.Propagator{}.Inject(local, want)
		if out.Get(traceHeaderName) != want.Get(traceHeaderName) {
			t.Errorf("%q: injected %q, contrib %q", header, out.Get(traceHeaderName), want.Get(traceHeaderName))
		}
	}
	if both < 100 {
		t.Errorf("only %d headers accepted by both propagators", both)
	}
}

// TestXRayPropagatorInject: the header sent from a context: a span's IDs
// with the extracted header's other fields, or the extracted header itself
// when no span was started under it.
func TestXRayPropagatorInject(t *testing.T) {
	span := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: mustTraceID(t, wantTrace), SpanID: trace.SpanID{0xab, 1, 2, 3, 4, 5, 6, 7}, TraceFlags: trace.FlagsSampled,
	})
	tests := []struct {
		name   string
		header string // extracted first; "" for none
		span   bool   // a span of this process under it
		want   string
	}{
		{"no header, no span", "", false, ""},
		{"span alone", "", true, "Root=1-674a8c00-5759e988bd862e3fe1be46a9;Parent=ab01020304050607;Sampled=1"},
		{"header alone goes on as it came", lambdaHeader, false, lambdaHeader},
		{"deferred header goes on as it came", "Root=1-674a8c00-5759e988bd862e3fe1be46a9;Parent=53995c3f42cd8ad8;Sampled=?;Lineage=1:fe460cdd:0",
			false, "Root=1-674a8c00-5759e988bd862e3fe1be46a9;Parent=53995c3f42cd8ad8;Sampled=?;Lineage=1:fe460cdd:0"},
		{"Root alone goes on as it came", "Root=1-674a8c00-5759e988bd862e3fe1be46a9;Lineage=1:fe460cdd:0", false, "Root=1-674a8c00-5759e988bd862e3fe1be46a9;Lineage=1:fe460cdd:0"},
		{"span under header: new Parent, same Lineage", lambdaHeader, true, "Root=1-674a8c00-5759e988bd862e3fe1be46a9;Parent=ab01020304050607;Sampled=1;Lineage=1:fe460cdd:0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.header != "" {
				ctx = XRayPropagator{}.Extract(ctx, propagation.MapCarrier{traceHeaderName: tt.header})
			}
			if tt.span {
				ctx = trace.ContextWithSpanContext(ctx, span)
			}
			got := propagation.MapCarrier{}
			XRayPropagator{}.Inject(ctx, got)
			if got.Get(traceHeaderName) != tt.want {
				t.Errorf("injected %q, want %q", got.Get(traceHeaderName), tt.want)
			}
		})
	}
}

// TestWithExtraFields: a header already on a request (the SDK's copy of
// _X_AMZN_TRACE_ID) gives its other fields when the context has none.
func TestWithExtraFields(t *testing.T) {
	span := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: mustTraceID(t, wantTrace), SpanID: trace.SpanID{0xab, 1, 2, 3, 4, 5, 6, 7}, TraceFlags: trace.FlagsSampled,
	})
	spanCtx := trace.ContextWithSpanContext(context.Background(), span)
	invocation := trace.ContextWithSpanContext(
		XRayPropagator{}.Extract(context.Background(), propagation.MapCarrier{traceHeaderName: lambdaHeader}), span)
	tests := []struct {
		name     string
		ctx      context.Context
		existing string
		want     string
	}{
		{"context's fields win", invocation, "Root=1-674a8c00-5759e988bd862e3fe1be46a9;Lineage=2:00000000:0", "Root=1-674a8c00-5759e988bd862e3fe1be46a9;Parent=ab01020304050607;Sampled=1;Lineage=1:fe460cdd:0"},
		{"request's fields when context has none", spanCtx, "Root=1-674a8c00-5759e988bd862e3fe1be46a9;Parent=1111111111111111;Sampled=1;Lineage=2:00000000:0", "Root=1-674a8c00-5759e988bd862e3fe1be46a9;Parent=ab01020304050607;Sampled=1;Lineage=2:00000000:0"},
		{"fields of a malformed header still go on", spanCtx, "Root=bad;Lineage=2:00000000:0", "Root=1-674a8c00-5759e988bd862e3fe1be46a9;Parent=ab01020304050607;Sampled=1;Lineage=2:00000000:0"},
		{"no span: the request's header stays", context.Background(), "Root=1-674a8c00-5759e988bd862e3fe1be46a9;Lineage=2:00000000:0", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := propagation.MapCarrier{}
			XRayPropagator{}.Inject(withExtraFields(tt.ctx, tt.existing), got)
			if got.Get(traceHeaderName) != tt.want {
				t.Errorf("injected %q, want %q", got.Get(traceHeaderName), tt.want)
			}
		})
	}
}

func mustTraceID(t *testing.T, s string) trace.TraceID {
	t.Helper()
	id, err := trace.TraceIDFromHex(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// FuzzParseTraceHeader: any header either fails with errTraceHeader or
// parses into one whose String parses back to the same header; the other
// fields never hold Root, Parent or Sampled; the propagator never panics and
// agrees with the contrib propagator on the IDs of every header both accept.
func FuzzParseTraceHeader(f *testing.F) {
	for _, seed := range []string{
		lambdaHeader,
		"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
		"Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?",
		"Root=1-674a8c00-5759e988bd862e3fe1be46a9;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=a87bd80c:1|68fd508a:5",
		"Self=1-67891234-def;Root=1-674a8c00-5759e988bd862e3fe1be46a9;Parent=53995c3f42cd8ad8;Sampled=1",
		"Root=1-674a8c00-5759e988bd862e3fe1be46a9; Parent=53995c3f42cd8ad8; Sampled=1",
		"Root = 1-674a8c00-5759e988bd862e3fe1be46a9 ;;",
		"", ";", "=", "Root=", "Root=1-", "Parent=53995c3f42cd8ad8", "Root=1-674a8c00-5759e988bd862e3fe1be46a9;Sampled=2",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		h, err := parseTraceHeader(header)
		if err != nil {
			if !errors.Is(err, errTraceHeader) {
				t.Fatalf("parseTraceHeader(%q): %v does not wrap errTraceHeader", header, err)
			}
		} else {
			for _, c := range []byte(h.String()) {
				if (c < ' ' && c != '\t') || c > '~' {
					t.Fatalf("%q parsed to %+v, whose String holds the byte %#02x, which HTTP refuses", header, h, c)
				}
			}
			again, err := parseTraceHeader(h.String())
			if err != nil || again != h {
				t.Fatalf("%q parsed to %+v, whose String %q parses to %+v, %v", header, h, h.String(), again, err)
			}
			for field := range strings.SplitSeq(h.extra, ";") {
				if key, _, _ := strings.Cut(field, "="); key == "Root" || key == "Parent" || key == "Sampled" {
					t.Fatalf("%q: other fields %q hold %s", header, h.extra, key)
				}
			}
		}
		carrier := propagation.MapCarrier{traceHeaderName: header}
		ctx := XRayPropagator{}.Extract(context.Background(), carrier)
		XRayPropagator{}.Inject(ctx, propagation.MapCarrier{})
		ours := trace.SpanContextFromContext(ctx)
		theirs := trace.SpanContextFromContext(xray.Propagator{}.Extract(context.Background(), carrier))
		if ours.IsValid() && theirs.IsValid() && (ours.TraceID() != theirs.TraceID() || ours.SpanID() != theirs.SpanID()) {
			t.Fatalf("%q: extracted %s/%s, contrib %s/%s", header, ours.TraceID(), ours.SpanID(), theirs.TraceID(), theirs.SpanID())
		}
	})
}
