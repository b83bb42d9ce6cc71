package otelsetup

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// TestXRayUDPTrimmingKeepsUTF8Whole: cutting string values to 1 KiB never
// splits a character. proto3 strings must be valid UTF-8; a strict agent
// (as the protobuf runtime that decodes here) rejects the whole datagram
// otherwise, and every span in it is lost.
func TestXRayUDPTrimmingKeepsUTF8Whole(t *testing.T) {
	// straddling returns a value whose character c starts pad bytes before
	// the cut, so that the cut falls inside it.
	straddling := func(pad int, c string) string {
		return strings.Repeat("a", maxTrimmedString-pad) + strings.Repeat(c, 3000)
	}
	var attrs []attribute.KeyValue
	for _, c := range []string{"é", "€", "😀"} {
		for pad := 1; pad < len(c); pad++ {
			attrs = append(attrs, attribute.String(fmt.Sprintf("%s.%d", c, pad), straddling(pad, c)))
		}
	}
	attrs = append(attrs,
		attribute.StringSlice("slice", []string{straddling(1, "é"), straddling(2, "😀")}),
		attribute.Map("map", attribute.String("inner", straddling(3, "😀"))),
		attribute.String("all multi-byte", strings.Repeat("€", 5000)),
		attribute.String("ascii", strings.Repeat("x", 20000)),
	)
	stub := tracetest.SpanStub{
		Name: "too large for a datagram",
		SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled,
		}),
		Attributes: attrs,
		Status:     sdktrace.Status{Code: codes.Error, Description: straddling(2, "€")},
	}

	agent, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	conn, err := net.DialUDP("udp", nil, agent.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	exp := &udpExporter{addr: agent.LocalAddr().(*net.UDPAddr), maxDatagram: MaxUDPDatagram, conn: conn}
	defer exp.Shutdown(context.Background())
	if err := exp.ExportSpans(context.Background(), []sdktrace.ReadOnlySpan{stub.Snapshot()}); err != nil {
		t.Fatal(err)
	}

	// The datagram is in the socket's buffer already; the deadline only
	// keeps a broken exporter from hanging the test.
	_ = agent.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 128<<10)
	n, _, err := agent.ReadFromUDP(buf)
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := bytes.Cut(buf[:n], []byte("\n"))
	payload, err := base64.StdEncoding.DecodeString(string(bytes.TrimPrefix(body, []byte(udpSampledPrefix))))
	if err != nil {
		t.Fatal(err)
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(payload, &req); err != nil {
		t.Fatalf("the datagram does not decode: %v", err)
	}
	span := req.ResourceSpans[0].ScopeSpans[0].Spans[0]
	if span.Attributes[len(span.Attributes)-1].Key != TrimmedAttribute {
		t.Fatalf("the span was not trimmed; the test needs it trimmed")
	}
	var strs int
	eachString(req.ProtoReflect(), func(path, s string) {
		strs++
		if !utf8.ValidString(s) {
			t.Errorf("%s is not valid UTF-8: ends %q", path, s[max(0, len(s)-8):])
		}
		if len(s) > maxTrimmedString && path != "name" {
			t.Errorf("%s kept %d bytes, want at most %d", path, len(s), maxTrimmedString)
		}
		if len(s) < maxTrimmedString-utf8.UTFMax && len(s) > 0 && strings.HasPrefix(s, "aaa") {
			t.Errorf("%s cut to %d bytes, more than one character short of %d", path, len(s), maxTrimmedString)
		}
	})
	if strs < len(attrs) {
		t.Errorf("walked %d strings, want at least %d", strs, len(attrs))
	}
}

// eachString calls fn with every string field set in m and in the messages
// it holds, and the field's path.
func eachString(m protoreflect.Message, fn func(path, s string)) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := string(fd.Name())
		switch {
		case fd.IsList():
			l := v.List()
			for i := range l.Len() {
				path := fmt.Sprintf("%s[%d]", name, i)
				switch fd.Kind() {
				case protoreflect.MessageKind:
					eachString(l.Get(i).Message(), func(p, s string) { fn(path+"."+p, s) })
				case protoreflect.StringKind:
					fn(path, l.Get(i).String())
				}
			}
		case fd.Kind() == protoreflect.MessageKind:
			eachString(v.Message(), func(p, s string) { fn(name+"."+p, s) })
		case fd.Kind() == protoreflect.StringKind:
			fn(name, v.String())
		}
		return true
	})
}
