package harness

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpRequest is an export request of n spans starting at start, each with
// an attribute of attrBytes bytes.
func otlpRequest(n int, start time.Time, attrBytes int) *coltracepb.ExportTraceServiceRequest {
	spans := make([]*tracepb.Span, n)
	for i := range spans {
		spans[i] = &tracepb.Span{
			TraceId:           bytes.Repeat([]byte{1}, 16),
			SpanId:            []byte{0, 0, 0, 0, 0, 0, byte(i >> 8), byte(i)},
			Name:              "span",
			StartTimeUnixNano: uint64(start.UnixNano()),
			EndTimeUnixNano:   uint64(start.Add(time.Millisecond).UnixNano()),
		}
		if attrBytes > 0 {
			spans[i].Attributes = []*commonpb.KeyValue{{Key: "big", Value: &commonpb.AnyValue{
				Value: &commonpb.AnyValue_StringValue{StringValue: strings.Repeat("x", attrBytes)},
			}}}
		}
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}},
	}}}
}

// sign signs r as the collector's sigv4auth extension does: the SDK's v4
// signer with the body's SHA-256.
func sign(t *testing.T, r *http.Request, body []byte, creds aws.Credentials, service, region string, at time.Time) {
	t.Helper()
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), service, region, at); err != nil {
		t.Fatal(err)
	}
}

func TestXRayOTLPStandIn(t *testing.T) {
	now := time.Now()
	good := func() []byte {
		b, err := proto.Marshal(otlpRequest(3, now, 0))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(b)
		_ = zw.Close()
		return buf.Bytes()
	}
	marshal := func(req *coltracepb.ExportTraceServiceRequest) []byte {
		b, err := proto.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	otherCreds := Credentials
	otherCreds.SecretAccessKey = "not-the-secret"
	unknownKey := Credentials
	unknownKey.AccessKeyID = "AKIDSOMEONEELSE"

	tests := []struct {
		name        string
		body        []byte
		contentType string
		encoding    string
		creds       aws.Credentials
		service     string
		region      string
		signedAt    time.Time
		unsigned    bool
		tamper      bool // the body changes after signing
		noSearch    bool // Transaction Search off
		wantStatus  int
		wantCode    string
		wantMessage string
	}{
		{name: "signed protobuf", body: good(), wantStatus: 200},
		{name: "signed gzip protobuf", body: gz(good()), encoding: "gzip", wantStatus: 200},
		{name: "signed JSON", contentType: "application/json", wantStatus: 200,
			body: []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"s","kind":2,"startTimeUnixNano":"` +
				strconv.FormatInt(now.UnixNano(), 10) + `","endTimeUnixNano":"` + strconv.FormatInt(now.UnixNano()+1000, 10) + `"}]}]}]}`)},
		{name: "no Authorization", body: good(), unsigned: true, wantStatus: 403, wantCode: "MissingAuthenticationTokenException"},
		{name: "wrong secret", body: good(), creds: otherCreds, wantStatus: 403, wantCode: "InvalidSignatureException", wantMessage: "does not match"},
		{name: "unknown access key", body: good(), creds: unknownKey, wantStatus: 403, wantCode: "UnrecognizedClientException", wantMessage: "security token included in the request is invalid"},
		{name: "wrong region", body: good(), region: "us-east-1", wantStatus: 403, wantCode: "InvalidSignatureException", wantMessage: "valid region"},
		{name: "wrong service", body: good(), service: "execute-api", wantStatus: 403, wantCode: "InvalidSignatureException", wantMessage: "correct service: 'xray'"},
		{name: "body changed after signing", body: good(), tamper: true, wantStatus: 403, wantCode: "InvalidSignatureException", wantMessage: "does not match"},
		{name: "signed 10 minutes ago", body: good(), signedAt: now.Add(-10 * time.Minute), wantStatus: 403, wantCode: "InvalidSignatureException", wantMessage: "Signature expired"},
		{name: "Transaction Search off", body: good(), noSearch: true, wantStatus: 400, wantMessage: "CloudWatch Logs as a Trace Segment Destination"},
		{name: "deflate", body: good(), encoding: "deflate", wantStatus: 415},
		{name: "not OTLP media type", body: good(), contentType: "text/plain", wantStatus: 415},
		{name: "not protobuf", body: []byte("not protobuf \xff\xff"), wantStatus: 400},
		{name: "10,000 spans", body: marshal(otlpRequest(10_000, now, 0)), wantStatus: 200},
		{name: "10,001 spans", body: marshal(otlpRequest(10_001, now, 0)), wantStatus: 400, wantMessage: "10,000 spans"},
		{name: "a span of 210 KB", body: marshal(otlpRequest(1, now, 210<<10)), wantStatus: 400, wantMessage: "200 KB"},
		{name: "6 MB in spans under 200 KB", body: gz(marshal(otlpRequest(40, now, 150<<10))), encoding: "gzip", wantStatus: 413, wantMessage: "5 MB"},
		{name: "a span 3 hours ahead", body: marshal(otlpRequest(1, now.Add(3*time.Hour), 0)), wantStatus: 400, wantMessage: "two hours in the future"},
		{name: "a span 1 hour ahead", body: marshal(otlpRequest(1, now.Add(time.Hour), 0)), wantStatus: 200},
		{name: "a span 15 days old", body: marshal(otlpRequest(1, now.Add(-15*24*time.Hour), 0)), wantStatus: 400, wantMessage: "14 days in the past"},
		{name: "a span 13 days old", body: marshal(otlpRequest(1, now.Add(-13*24*time.Hour), 0)), wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, err := NewXRayOTLP(Region, Credentials)
			if err != nil {
				t.Fatal(err)
			}
			defer x.Close()
			x.SetTransactionSearch(!tt.noSearch)
			r, err := http.NewRequest(http.MethodPost, x.URL(), bytes.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			ct := tt.contentType
			if ct == "" {
				ct = "application/x-protobuf"
			}
			r.Header.Set("Content-Type", ct)
			if tt.encoding != "" {
				r.Header.Set("Content-Encoding", tt.encoding)
			}
			if !tt.unsigned {
				creds, service, region, at := Credentials, "xray", Region, now
				if tt.creds.AccessKeyID != "" {
					creds = tt.creds
				}
				if tt.service != "" {
					service = tt.service
				}
				if tt.region != "" {
					region = tt.region
				}
				if !tt.signedAt.IsZero() {
					at = tt.signedAt
				}
				sign(t, r, tt.body, creds, service, region, at)
			}
			if tt.tamper {
				changed := append([]byte(nil), tt.body...)
				changed[len(changed)-1] ^= 1
				r.Body = io.NopCloser(bytes.NewReader(changed))
			}
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d; rejections %v", resp.StatusCode, tt.wantStatus, x.Rejections())
			}
			if tt.wantStatus == 200 {
				if len(x.Requests()) != 1 || len(x.Rejections()) != 0 {
					t.Fatalf("kept %d requests, rejected %v; want the one kept", len(x.Requests()), x.Rejections())
				}
				return
			}
			if len(x.Requests()) != 0 {
				t.Errorf("a refused request was kept")
			}
			rej := x.Rejections()
			if len(rej) != 1 {
				t.Fatalf("rejections %v, want one", rej)
			}
			if tt.wantCode != "" && rej[0].Code != tt.wantCode {
				t.Errorf("code %q, want %q (%s)", rej[0].Code, tt.wantCode, rej[0].Message)
			}
			if resp.Header.Get("X-Amzn-ErrorType") != rej[0].Code {
				t.Errorf("X-Amzn-ErrorType %q, want %q", resp.Header.Get("X-Amzn-ErrorType"), rej[0].Code)
			}
			if !strings.Contains(rej[0].Message, tt.wantMessage) {
				t.Errorf("message %q, want it to say %q", rej[0].Message, tt.wantMessage)
			}
		})
	}
}
