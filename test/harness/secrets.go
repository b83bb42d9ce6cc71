package harness

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// BodyKeys are the annotations the pattern defines for what its messages
// say: path (dynamo, http: the fan-out message, which is the request's
// path), message (sqs: the greeting it sends; sqs-subscribe: the greeting
// it received, once checked to be one; sns-publish: its constant message)
// and message_content (sns-subscribe: the second topic's message). These are
// the pattern's data, built from the request's path, which API Gateway
// records in its own segment anyway. Any other field that holds a message's
// body (a metadata key, an exception's message, an SDK call's attribute)
// would put into traces what callers sent, which is not the pattern's to
// publish; the SNS and SQS payloads, the HTTP answer's body and the SDK's
// request bodies never belong in a span.
var BodyKeys = []string{"path", "message", "message_content"}

// CredentialNames are the names of the headers and query parameters that
// carry credentials: the Authorization, Cookie, Set-Cookie and
// X-Amz-Security-Token headers, and SigV4's query parameters. None may be
// recorded, except as a query parameter whose value was replaced by
// REDACTED (otelsetup.RedactURL), which says what was called without the
// credential.
var CredentialNames = []string{"authorization", "cookie", "x-amz-security-token", "x-amz-signature", "x-amz-credential", "awsaccesskeyid"}

// Secrets are what no span may hold: the values to look for, and the
// message bodies that may appear only under BodyKeys.
type Secrets struct {
	// Values must appear nowhere: credentials (the functions' access key
	// ID, secret and session token), a presigned URL's signature, cookies.
	Values []string
	// Bodies may appear only in the annotations BodyKeys name.
	Bodies []string
}

// Check returns what text, the value or the key of field in where, holds
// of s. bodyField says whether field is one of the pattern's annotations
// for bodies.
func (s Secrets) Check(where, field string, bodyField bool, text string) []string {
	lower := strings.ToLower(text)
	var out []string
	for _, v := range s.Values {
		if v != "" && strings.Contains(lower, strings.ToLower(v)) {
			out = append(out, fmt.Sprintf("%s: %s holds the secret %q: %.300q", where, field, v, text))
		}
	}
	for _, name := range CredentialNames {
		for rest := lower; ; {
			i := strings.Index(rest, name)
			if i < 0 {
				break
			}
			rest = rest[i+len(name):]
			if !strings.HasPrefix(rest, "=redacted") {
				out = append(out, fmt.Sprintf("%s: %s names %q: %.300q", where, field, name, text))
				break
			}
		}
	}
	if !bodyField {
		for _, b := range s.Bodies {
			if b != "" && strings.Contains(lower, strings.ToLower(b)) {
				out = append(out, fmt.Sprintf("%s: %s holds a message body %q, which only the annotations %v may: %.300q", where, field, b, BodyKeys, text))
			}
		}
	}
	return out
}

// CheckDocument returns what a segment document holds of s, in any key or
// value of any field, its subsegments included. The annotations of BodyKeys
// and, in API Gateway's own segment, the request's URL may hold bodies.
func (s Secrets) CheckDocument(doc Segment) []string {
	var v any
	if err := json.Unmarshal(doc.Raw, &v); err != nil {
		return []string{fmt.Sprintf("document %s: %v", doc.ID, err)}
	}
	where := fmt.Sprintf("document %s (%s, %s)", doc.ID, doc.Name, doc.Origin)
	var out []string
	var walk func(path []string, v any)
	walk = func(path []string, v any) {
		field := strings.Join(path, ".")
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				out = append(out, s.Check(where, field+" (a key)", false, k)...)
				walk(append(slices.Clone(path), k), x)
			}
		case []any:
			for i, x := range v {
				walk(append(slices.Clone(path), fmt.Sprint(i)), x)
			}
		case string:
			out = append(out, s.Check(where, field, bodyField(doc, path), v)...)
		}
	}
	walk(nil, v)
	return out
}

// bodyField says whether the field at path may hold a message body: an
// annotation of BodyKeys, or the URL in API Gateway's segment, which AWS
// records, not the functions.
func bodyField(doc Segment, path []string) bool {
	if n := len(path); n >= 2 && path[n-2] == "annotations" && slices.Contains(BodyKeys, path[n-1]) {
		return true
	}
	return doc.Origin == "AWS::ApiGateway::Stage" && slices.Equal(path, []string{"http", "request", "url"})
}
