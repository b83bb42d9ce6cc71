package harness

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/xray-tracer/xray-tracer/internal/local/sandbox"
)

// XRayOTLP stands in for X-Ray's OTLP traces endpoint,
// https://xray.<region>.amazonaws.com/v1/traces, on 127.0.0.1. It accepts
// what AWS documents the endpoint accepts, refuses what AWS documents it
// refuses, and keeps every export request it accepts. Point the otlp_http
// exporter's traces_endpoint at URL.
//
// The sources of each behaviour:
//   - Endpoint: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-OTLPEndpoint.html
//     ("Endpoint limits and restrictions"): OTLP 1.x over HTTP, protobuf
//     ("binary") or JSON, gzip or no compression, at most 5 MB uncompressed
//     and 10,000 spans a request, 200 KB a span, no span more than two hours
//     in the future or fourteen days in the past. It authenticates callers
//     with SigV4 (the same page, and the sigv4authextension it requires).
//   - Errors: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-OTLPTroubleshooting.html
//     (invalid credentials: 403 "The security token included in the request
//     is invalid."; Transaction Search off: "The OTLP API is supported with
//     CloudWatch Logs as a Trace Segment Destination.") and X-Ray's common
//     errors, https://docs.aws.amazon.com/xray/latest/api/CommonErrors.html
//     (MissingAuthenticationToken 403, IncompleteSignature 400).
//   - SigV4: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html
//     and its troubleshooting page (the signature mismatch and expired
//     messages, a request valid for five minutes around its X-Amz-Date).
//
// What AWS does not document, and this stand-in chooses: the HTTP status of
// a limit's refusal (400, which the OTLP/HTTP specification gives for a
// request the server will not process and a client must not retry; 413 for
// the size, HTTP's own status for it) and the body of every error, which
// here is AWS's JSON error shape ({"__type","message"}, and the code in
// X-Amzn-ErrorType). "Maximum time gap in events / request" is listed in the
// table without a unit that the copies of the page read here show, so it is
// not enforced.
type XRayOTLP struct {
	ln     net.Listener
	srv    *http.Server
	region string
	creds  aws.Credentials
	signer *v4.Signer
	now    func() time.Time

	mu                sync.Mutex
	transactionSearch bool
	requests          []*coltracepb.ExportTraceServiceRequest
	rejections        []OTLPRejection
	changed           chan struct{} // closed and replaced whenever requests or rejections change
}

// OTLPRejection is a request the stand-in refused, as it answered it.
type OTLPRejection struct {
	Status  int
	Code    string
	Message string
}

func (r OTLPRejection) String() string { return fmt.Sprintf("%d %s: %s", r.Status, r.Code, r.Message) }

// The endpoint's documented limits.
const (
	otlpMaxUncompressed = 5 << 20 // "5 MB"; AWS's MB is 1024 KiB elsewhere in CloudWatch's quotas
	otlpMaxSpans        = 10_000
	otlpMaxSpanBytes    = 200 << 10 // "200 KB"
	otlpMaxFuture       = 2 * time.Hour
	otlpMaxPast         = 14 * 24 * time.Hour
	// sigV4Skew is how far a request's X-Amz-Date may be from the server's
	// clock: "valid for five minutes" in the SigV4 reference.
	sigV4Skew = 5 * time.Minute
)

// NewXRayOTLP starts the stand-in on a random port of 127.0.0.1 for region,
// knowing one set of credentials, the ones the collector signs with (in
// Lambda, the function role's). Transaction Search is on. Close stops it.
func NewXRayOTLP(region string, creds aws.Credentials) (*XRayOTLP, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("harness: X-Ray OTLP stand-in: %w", err)
	}
	x := &XRayOTLP{
		ln: ln, region: region, creds: creds, signer: v4.NewSigner(), now: time.Now,
		transactionSearch: true, changed: make(chan struct{}),
	}
	x.srv = &http.Server{Handler: x.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = x.srv.Serve(ln) }()
	return x, nil
}

// URL is the traces endpoint, e.g. http://127.0.0.1:41234/v1/traces.
func (x *XRayOTLP) URL() string { return "http://" + x.ln.Addr().String() + "/v1/traces" }

// Close stops the server. Kept requests stay readable.
func (x *XRayOTLP) Close() error { return x.srv.Close() }

// SetTransactionSearch switches the account's Transaction Search on or off:
// without it the endpoint refuses every request.
func (x *XRayOTLP) SetTransactionSearch(on bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.transactionSearch = on
}

// Requests returns the accepted export requests in arrival order. Treat
// them as read-only.
func (x *XRayOTLP) Requests() []*coltracepb.ExportTraceServiceRequest {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]*coltracepb.ExportTraceServiceRequest(nil), x.requests...)
}

// Rejections returns the requests refused so far, as answered.
func (x *XRayOTLP) Rejections() []OTLPRejection {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]OTLPRejection(nil), x.rejections...)
}

// WaitFor blocks until done reports true for the accepted requests and the
// rejections, or ctx ends. done is called again after every change.
func (x *XRayOTLP) WaitFor(ctx context.Context, done func([]*coltracepb.ExportTraceServiceRequest, []OTLPRejection) bool) error {
	for {
		x.mu.Lock()
		reqs := append([]*coltracepb.ExportTraceServiceRequest(nil), x.requests...)
		rej := append([]OTLPRejection(nil), x.rejections...)
		changed := x.changed
		x.mu.Unlock()
		if done(reqs, rej) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("harness: waiting at the X-Ray OTLP stand-in (%d requests accepted, rejected: %v): %w",
				len(reqs), rej, context.Cause(ctx))
		}
	}
}

func (x *XRayOTLP) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Amzn-RequestId", sandbox.NewRequestID())
		req, rej := x.accept(r)
		if rej != nil {
			x.record(nil, rej)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Amzn-ErrorType", rej.Code)
			w.WriteHeader(rej.Status)
			_ = json.NewEncoder(w).Encode(map[string]string{"__type": rej.Code, "message": rej.Message})
			return
		}
		x.record(req, nil)
		// An empty ExportTraceServiceResponse (no partial success), in the
		// request's encoding, as OTLP/HTTP answers a full success.
		if mediaType(r.Header.Get("Content-Type")) == "application/json" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte("{}"))
			return
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	})
}

func (x *XRayOTLP) record(req *coltracepb.ExportTraceServiceRequest, rej *OTLPRejection) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if req != nil {
		x.requests = append(x.requests, req)
	}
	if rej != nil {
		x.rejections = append(x.rejections, *rej)
	}
	close(x.changed)
	x.changed = make(chan struct{})
}

func reject(status int, code, msg string) *OTLPRejection {
	return &OTLPRejection{Status: status, Code: code, Message: msg}
}

// accept checks a request in the order a caller meets the checks: the
// route, the signature, the account's Transaction Search, the encoding, then
// the documented limits on what it carries.
func (x *XRayOTLP) accept(r *http.Request) (*coltracepb.ExportTraceServiceRequest, *OTLPRejection) {
	if r.URL.Path != "/v1/traces" {
		// Only traces: "CloudWatch currently only supports OpenTelemetry
		// Protocol endpoint for traces" on this host.
		return nil, reject(http.StatusNotFound, "UnknownOperationException", "no operation at "+r.URL.Path)
	}
	if r.Method != http.MethodPost {
		return nil, reject(http.StatusMethodNotAllowed, "UnknownOperationException", "the traces endpoint takes POST")
	}
	// The body as sent is what the signature's payload hash covers. Bounded
	// so that a runaway client cannot exhaust memory; a gzip body larger
	// than the uncompressed limit is over the limit anyway.
	body, err := io.ReadAll(io.LimitReader(r.Body, otlpMaxUncompressed+1))
	if err != nil {
		return nil, reject(http.StatusBadRequest, "InvalidRequestException", "reading the request body: "+err.Error())
	}
	if len(body) > otlpMaxUncompressed {
		return nil, reject(http.StatusRequestEntityTooLarge, "InvalidRequestException", "the request is larger than 5 MB uncompressed")
	}
	if rej := x.verifySignature(r, body); rej != nil {
		return nil, rej
	}
	x.mu.Lock()
	search := x.transactionSearch
	x.mu.Unlock()
	if !search {
		return nil, reject(http.StatusBadRequest, "InvalidRequestException",
			"The OTLP API is supported with CloudWatch Logs as a Trace Segment Destination.")
	}

	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, reject(http.StatusBadRequest, "InvalidRequestException", "the gzip body does not decompress: "+err.Error())
		}
		if body, err = io.ReadAll(io.LimitReader(zr, otlpMaxUncompressed+1)); err != nil {
			return nil, reject(http.StatusBadRequest, "InvalidRequestException", "the gzip body does not decompress: "+err.Error())
		}
		if len(body) > otlpMaxUncompressed {
			return nil, reject(http.StatusRequestEntityTooLarge, "InvalidRequestException", "the request is larger than 5 MB uncompressed")
		}
	default:
		// "The endpoint only supports gzip and none compression methods."
		return nil, reject(http.StatusUnsupportedMediaType, "InvalidRequestException", "Content-Encoding "+enc+": only gzip and none are supported")
	}

	req := &coltracepb.ExportTraceServiceRequest{}
	switch ct := mediaType(r.Header.Get("Content-Type")); ct {
	case "application/x-protobuf":
		if err := proto.Unmarshal(body, req); err != nil {
			return nil, reject(http.StatusBadRequest, "InvalidRequestException", "the body is not an OTLP ExportTraceServiceRequest: "+err.Error())
		}
	case "application/json":
		if err := unmarshalOTLPJSON(body, req); err != nil {
			return nil, reject(http.StatusBadRequest, "InvalidRequestException", "the body is not an OTLP ExportTraceServiceRequest: "+err.Error())
		}
	default:
		return nil, reject(http.StatusUnsupportedMediaType, "InvalidRequestException", "Content-Type "+ct+": only binary (application/x-protobuf) and json (application/json) are supported")
	}
	if rej := x.checkLimits(req); rej != nil {
		return nil, rej
	}
	return req, nil
}

// checkLimits enforces the documented per-request and per-span limits.
func (x *XRayOTLP) checkLimits(req *coltracepb.ExportTraceServiceRequest) *OTLPRejection {
	now := x.now()
	n := 0
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, span := range ss.GetSpans() {
				n++
				if n > otlpMaxSpans {
					return reject(http.StatusBadRequest, "InvalidRequestException", "more than 10,000 spans in one request")
				}
				if size := proto.Size(span); size > otlpMaxSpanBytes {
					return reject(http.StatusBadRequest, "InvalidRequestException",
						fmt.Sprintf("span %x is %d bytes, more than 200 KB", span.GetSpanId(), size))
				}
				start := time.Unix(0, int64(span.GetStartTimeUnixNano()))
				if start.After(now.Add(otlpMaxFuture)) || start.Before(now.Add(-otlpMaxPast)) {
					return reject(http.StatusBadRequest, "InvalidRequestException",
						fmt.Sprintf("span %x starts at %s: no span may be more than two hours in the future or more than 14 days in the past", span.GetSpanId(), start.UTC().Format(time.RFC3339)))
				}
			}
		}
	}
	return nil
}

// verifySignature checks the request's SigV4 signature the way AWS does: by
// computing it again, here with the AWS SDK for Go v2's v4 signer, from the
// headers the caller says it signed, the body's SHA-256, the scope's date,
// and the secret key of the caller's access key, and comparing.
func (x *XRayOTLP) verifySignature(r *http.Request, body []byte) *OTLPRejection {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return reject(http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	sig, err := parseAuthorization(auth)
	if err != nil {
		return reject(http.StatusBadRequest, "IncompleteSignatureException", err.Error())
	}
	// An access key, or a session token, that AWS does not know.
	if sig.accessKey != x.creds.AccessKeyID || r.Header.Get("X-Amz-Security-Token") != x.creds.SessionToken {
		return reject(http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid.")
	}
	if sig.service != "xray" {
		return reject(http.StatusForbidden, "InvalidSignatureException", "Credential should be scoped to correct service: 'xray'.")
	}
	if sig.region != x.region {
		return reject(http.StatusForbidden, "InvalidSignatureException",
			fmt.Sprintf("Credential should be scoped to a valid region, not '%s'.", sig.region))
	}
	signedAt, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return reject(http.StatusBadRequest, "IncompleteSignatureException", "X-Amz-Date is missing or not in the form 20060102T150405Z")
	}
	if signedAt.Format("20060102") != sig.date {
		return reject(http.StatusForbidden, "InvalidSignatureException", "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP")
	}
	if now := x.now(); signedAt.Before(now.Add(-sigV4Skew)) || signedAt.After(now.Add(sigV4Skew)) {
		return reject(http.StatusForbidden, "InvalidSignatureException",
			fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 5 min.)",
				signedAt.Format("20060102T150405Z"), now.Add(-sigV4Skew).UTC().Format("20060102T150405Z"), now.UTC().Format("20060102T150405Z")))
	}

	// The request as the caller signed it: its method, path and query, its
	// host, and only the headers it lists as signed. The signer adds
	// X-Amz-Date and X-Amz-Security-Token itself, and host and
	// content-length from the request's fields.
	again, err := http.NewRequest(r.Method, r.URL.RequestURI(), nil)
	if err != nil {
		return reject(http.StatusBadRequest, "IncompleteSignatureException", err.Error())
	}
	again.Host = r.Host
	again.URL.Host = r.Host
	for _, h := range sig.signedHeaders {
		switch h {
		case "host", "x-amz-date", "x-amz-security-token":
		case "content-length":
			again.ContentLength = int64(len(body))
		default:
			values, ok := r.Header[http.CanonicalHeaderKey(h)]
			if !ok {
				return reject(http.StatusBadRequest, "IncompleteSignatureException", "signed header "+h+" is not in the request")
			}
			again.Header[http.CanonicalHeaderKey(h)] = values
		}
	}
	payload := sha256.Sum256(body)
	if err := x.signer.SignHTTP(r.Context(), x.creds, again, hex.EncodeToString(payload[:]), sig.service, sig.region, signedAt); err != nil {
		return reject(http.StatusInternalServerError, "InternalFailure", "signing again: "+err.Error())
	}
	want, err := parseAuthorization(again.Header.Get("Authorization"))
	if err != nil {
		return reject(http.StatusInternalServerError, "InternalFailure", "the SDK's own Authorization header: "+err.Error())
	}
	if !hmac.Equal([]byte(want.signature), []byte(sig.signature)) {
		return reject(http.StatusForbidden, "InvalidSignatureException",
			"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	return nil
}

// sigV4 is a parsed SigV4 Authorization header:
// "AWS4-HMAC-SHA256 Credential=AKID/20250101/eu-west-1/xray/aws4_request,
// SignedHeaders=host;x-amz-date, Signature=…".
type sigV4 struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	signature                        string
}

func parseAuthorization(h string) (sigV4, error) {
	var s sigV4
	alg, rest, ok := strings.Cut(h, " ")
	if !ok || alg != "AWS4-HMAC-SHA256" {
		return s, errors.New("the Authorization header is not AWS Signature Version 4 (AWS4-HMAC-SHA256)")
	}
	fields := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return s, errors.New("the Authorization header requires a Credential of the form access-key/date/region/service/aws4_request")
	}
	if fields["SignedHeaders"] == "" || fields["Signature"] == "" {
		return s, errors.New("the Authorization header requires 'SignedHeaders' and 'Signature' parameters")
	}
	s.accessKey, s.date, s.region, s.service = scope[0], scope[1], scope[2], scope[3]
	s.signedHeaders = strings.Split(fields["SignedHeaders"], ";")
	s.signature = fields["Signature"]
	return s, nil
}

func mediaType(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(contentType))
	}
	return mt
}

// unmarshalOTLPJSON decodes OTLP/JSON. It is protobuf's JSON mapping with
// one difference (OTLP specification, "JSON Protobuf Encoding"): trace and
// span IDs are hex strings, not base64; so they are rewritten before
// protojson reads the rest.
func unmarshalOTLPJSON(body []byte, req *coltracepb.ExportTraceServiceRequest) error {
	var doc any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // keep 64-bit timestamps exact
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("OTLP/JSON: %w", err)
	}
	if err := hexIDsToBase64(doc); err != nil {
		return err
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("OTLP/JSON: %w", err)
	}
	if err := protojson.Unmarshal(b, req); err != nil {
		return fmt.Errorf("OTLP/JSON: %w", err)
	}
	return nil
}

func hexIDsToBase64(v any) error {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			switch k {
			case "traceId", "spanId", "parentSpanId":
				s, _ := e.(string)
				b, err := hex.DecodeString(s)
				if err != nil {
					return fmt.Errorf("OTLP/JSON: %s %q is not hex: %w", k, s, err)
				}
				x[k] = base64.StdEncoding.EncodeToString(b)
			default:
				if err := hexIDsToBase64(e); err != nil {
					return err
				}
			}
		}
	case []any:
		for _, e := range x {
			if err := hexIDsToBase64(e); err != nil {
				return err
			}
		}
	}
	return nil
}
