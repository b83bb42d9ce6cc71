package otelsetup

import (
	"net/http"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Redacted replaces what a span must not hold.
const Redacted = "REDACTED"

// sensitiveQueryKeys are the query parameters whose values are credentials:
// those the semantic conventions list for url.full and url.query
// (AWSAccessKeyId, Signature, sig, X-Goog-Signature), and SigV4's, which a
// presigned S3 URL carries (X-Amz-Signature, X-Amz-Credential and, with
// temporary credentials, X-Amz-Security-Token: the session token itself).
// https://opentelemetry.io/docs/specs/semconv/registry/attributes/url/
// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
var sensitiveQueryKeys = []string{
	"AWSAccessKeyId", "Signature", "sig", "X-Goog-Signature",
	"X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token",
}

// RedactURL returns raw with the values of credential query parameters and
// any user name and password replaced by REDACTED, as the semantic
// conventions ask of url.full: a presigned URL's signature, its access key
// ID and its session token must not reach a trace, which many more people
// read than the function's configuration. The rest of the URL stays, so the
// span still says what was called. A raw that does not parse is returned
// whole but for its query, which is the part that may hold a credential.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		base, _, _ := strings.Cut(raw, "?")
		return base
	}
	if u.User != nil {
		u.User = url.UserPassword(Redacted, Redacted)
	}
	if u.RawQuery != "" {
		parts := strings.Split(u.RawQuery, "&")
		for i, p := range parts {
			k, _, _ := strings.Cut(p, "=")
			if name, err := url.QueryUnescape(k); err == nil && isSensitiveQueryKey(name) {
				parts[i] = k + "=" + Redacted
			}
		}
		u.RawQuery = strings.Join(parts, "&")
	}
	return u.String()
}

func isSensitiveQueryKey(k string) bool {
	for _, s := range sensitiveQueryKeys {
		if strings.EqualFold(k, s) {
			return true
		}
	}
	return false
}

// urlFullKey is the attribute otelhttp records the request's URL in.
const urlFullKey = attribute.Key("url.full")

// redactURLTransport sits under otelhttp's transport and writes the
// request's url.full again, redacted: otelhttp drops a URL's user
// information but records its query whole (v0.72.0,
// internal/semconv/client.go), signature and all.
type redactURLTransport struct{ next http.RoundTripper }

func (t redactURLTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
		span.SetAttributes(urlFullKey.String(RedactURL(r.URL.String())))
	}
	return t.next.RoundTrip(r)
}
