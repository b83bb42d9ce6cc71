package otelsetup_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest/awstest"
)

func TestRedactURL(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"no query", "https://api.example.test/status", "https://api.example.test/status"},
		{"other parameters kept", "https://api.example.test/s?page=2&q=a%20b", "https://api.example.test/s?page=2&q=a%20b"},
		{
			"presigned S3 URL (SigV4, temporary credentials)",
			"https://b.s3.eu-west-1.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20260101%2Feu-west-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=900&X-Amz-Security-Token=FQoGZXIvYXdzEXAMPLE&X-Amz-SignedHeaders=host&X-Amz-Signature=abc123",
			"https://b.s3.eu-west-1.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=REDACTED&X-Amz-Date=20260101T000000Z&X-Amz-Expires=900&X-Amz-Security-Token=REDACTED&X-Amz-SignedHeaders=host&X-Amz-Signature=REDACTED",
		},
		{"SigV2 and the semantic conventions' list", "https://h.test/?AWSAccessKeyId=AKIA&Signature=s&sig=x&X-Goog-Signature=g", "https://h.test/?AWSAccessKeyId=REDACTED&Signature=REDACTED&sig=REDACTED&X-Goog-Signature=REDACTED"},
		{"names in any case", "https://h.test/?x-amz-signature=abc", "https://h.test/?x-amz-signature=REDACTED"},
		{"user and password", "https://alice:s3cret@h.test/p", "https://REDACTED:REDACTED@h.test/p"},
		{"does not parse: the query goes", "https://h.test/%zz?X-Amz-Signature=abc", "https://h.test/%zz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := otelsetup.RedactURL(tt.in); got != tt.want {
				t.Errorf("RedactURL(%q)\n = %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

// Markers no span may hold, wherever the call put them.
const (
	markerAccessKey    = "AKIAMARKERACCESSKEY1"
	markerSecret       = "marker-secret-access-key"
	markerSessionToken = "marker-session-token"
	markerSignature    = "markersignature0123"
	markerCookie       = "marker-cookie-value"
	markerPassword     = "marker-password"
	markerBody         = "marker message body"
)

// forbidden is what no span's name, attribute, event or status may contain:
// the markers, and the names of the headers that carry credentials.
var forbidden = []string{
	markerAccessKey, markerSecret, markerSessionToken, markerSignature, markerCookie, markerPassword, markerBody,
	"authorization", "cookie", "x-amz-security-token=" + markerSessionToken,
}

// checkNoSecrets fails for every span that holds a forbidden string.
func checkNoSecrets(t *testing.T, spans tracetest.SpanStubs) {
	t.Helper()
	if len(spans) == 0 {
		t.Fatal("no spans to inspect")
	}
	for _, s := range spans {
		texts := []string{"name " + s.Name, "status " + s.Status.Description}
		for _, a := range s.Attributes {
			texts = append(texts, fmt.Sprintf("attribute %s=%s", a.Key, a.Value.String()))
		}
		for _, e := range s.Events {
			texts = append(texts, "event "+e.Name)
			for _, a := range e.Attributes {
				texts = append(texts, fmt.Sprintf("event %s attribute %s=%s", e.Name, a.Key, a.Value.String()))
			}
		}
		for _, text := range texts {
			for _, f := range forbidden {
				if strings.Contains(strings.ToLower(text), strings.ToLower(f)) {
					t.Errorf("span %q holds %q: %s", s.Name, f, text)
				}
			}
		}
	}
}

// The HTTP client's spans hold no credential of the request or the answer:
// not the request's Authorization, Cookie or X-Amz-Security-Token headers,
// not the answer's Set-Cookie, not a presigned URL's signature, credential
// or session token, not a password in the URL.
func TestHTTPClientSpansHoldNoCredentials(t *testing.T) {
	tr, exp := otelsetuptest.New(t)
	var sent http.Header
	net := roundTripper(func(r *http.Request) (*http.Response, error) {
		sent = r.Header.Clone()
		h := http.Header{}
		h.Set("Set-Cookie", "session="+markerCookie+"; HttpOnly")
		return &http.Response{StatusCode: http.StatusServiceUnavailable, Status: "503 Service Unavailable", Header: h,
			Body: io.NopCloser(strings.NewReader(markerBody)), Request: r}, nil
	})
	client := &http.Client{Transport: tr.HTTPTransport(net)}
	ctx, parent := tr.TracerProvider().Tracer("test").Start(context.Background(), "external HTTP Request")
	url := "https://user:" + markerPassword + "@bucket.s3.eu-west-1.amazonaws.com/key?X-Amz-Credential=" + markerAccessKey +
		"%2F20260101%2Feu-west-1%2Fs3%2Faws4_request&X-Amz-Security-Token=" + markerSessionToken + "&X-Amz-Signature=" + markerSignature
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("Cookie", "session="+markerCookie)
	req.Header.Set("X-Amz-Security-Token", markerSessionToken)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	parent.End()
	tr.Flush(context.Background())

	if sent.Get("Authorization") == "" || sent.Get("Cookie") == "" {
		t.Fatalf("the request carried %v; want Authorization (from the URL's user) and Cookie, for the test to mean anything", sent)
	}
	checkNoSecrets(t, exp.GetSpans())
	s := otelsetuptest.One(t, exp.GetSpans(), "GET bucket.s3.eu-west-1.amazonaws.com")
	if v, _ := otelsetuptest.Attr(s, "url.full"); !strings.Contains(v.AsString(), "X-Amz-Signature=REDACTED") {
		t.Errorf("url.full = %q, want the URL with its signature REDACTED", v.AsString())
	}
}

// The AWS SDK's spans hold neither the credentials it signs with (access
// key ID, secret, session token: in the Authorization and
// X-Amz-Security-Token headers of every request) nor a message's body.
func TestAWSSpansHoldNoCredentials(t *testing.T) {
	tr, exp := otelsetuptest.New(t)
	srv := awstest.New(t)
	cfg, err := tr.AWSConfig(context.Background(), append(srv.LoadOptions(),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(markerAccessKey, markerSecret, markerSessionToken)))...)
	if err != nil {
		t.Fatal(err)
	}
	srv.Fail("DeleteMessage", awstest.Error{Status: 400, Code: "ReceiptHandleIsInvalid", Message: "invalid receipt handle"})
	ctx, parent := tr.TracerProvider().Tracer("test").Start(context.Background(), "SQS Logic")
	q := sqs.NewFromConfig(cfg)
	if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(srv.URL + "/123456789012/q"), MessageBody: aws.String(markerBody)}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(srv.URL + "/123456789012/q"), ReceiptHandle: aws.String(markerBody)}); err == nil {
		t.Fatal("DeleteMessage succeeded; want the stand-in's error, to inspect a failed call's span")
	}
	parent.End()
	tr.Flush(context.Background())

	var signed bool
	for _, r := range srv.Requests() {
		signed = signed || strings.Contains(r.Header.Get("Authorization"), markerAccessKey) && r.Header.Get("X-Amz-Security-Token") == markerSessionToken
	}
	if !signed {
		t.Fatal("the calls were not signed with the marker credentials; the test would mean nothing")
	}
	checkNoSecrets(t, exp.GetSpans())
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
