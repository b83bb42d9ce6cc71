package otelsetup

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/protobuf/encoding/protowire"
)

// otlpHTTPExporter sends spans as OTLP/HTTP with binary protobuf
// (https://opentelemetry.io/docs/specs/otlp/#otlphttp), to the ADOT
// collector layer's extension by default. It does what a function needs of
// the upstream exporter with a fraction of its code (see otlpproto.go):
// one POST per export, retried on 429, 502, 503 and 504 (honouring
// Retry-After) until the export's deadline, as the specification asks; a
// Retry-After that ends past the deadline ends the export at once.
type otlpHTTPExporter struct {
	url      string
	endpoint *url.URL    // url, parsed once
	headers  http.Header // every request's, Content-Type and Content-Encoding included
	gzip     bool
	timeout  time.Duration
	client   *http.Client
	stopped  atomic.Bool
	maxDelay time.Duration
}

// The OTLP/HTTP exporter's settings, from the OTEL_EXPORTER_OTLP_*
// variables (https://opentelemetry.io/docs/specs/otel/protocol/exporter/);
// the TRACES_ variant of each wins over the general one.
const (
	otlpTracesPath       = "/v1/traces"
	defaultOTLPTimeout   = 10 * time.Second
	otlpFirstRetryDelay  = 5 * time.Millisecond
	otlpMaxRetryDelay    = 250 * time.Millisecond
	maxOTLPResponseBytes = 64 << 10
)

func newOTLPHTTPExporter(getenv func(string) string) (*otlpHTTPExporter, error) {
	get := func(name string) string {
		if v := getenv("OTEL_EXPORTER_OTLP_TRACES_" + name); v != "" {
			return v
		}
		return getenv("OTEL_EXPORTER_OTLP_" + name)
	}
	e := &otlpHTTPExporter{headers: http.Header{}, timeout: defaultOTLPTimeout, maxDelay: otlpMaxRetryDelay}

	// A signal-specific endpoint is the whole URL; the general one is a base
	// to which /v1/traces is added.
	switch endpoint, base := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), getenv("OTEL_EXPORTER_OTLP_ENDPOINT"); {
	case endpoint != "":
		e.url = endpoint
	case base != "":
		e.url = strings.TrimSuffix(base, "/") + otlpTracesPath
	default:
		e.url = DefaultOTLPEndpoint + otlpTracesPath
	}
	u, err := url.Parse(e.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("OTLP endpoint %q: want an http:// or https:// URL", e.url)
	}
	e.endpoint = u

	for _, name := range []string{"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"} {
		if err := parseHeaders(getenv(name), e.headers); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	if v := get("TIMEOUT"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 {
			return nil, fmt.Errorf("OTLP timeout %q: want a positive number of milliseconds", v)
		}
		e.timeout = time.Duration(ms) * time.Millisecond
	}
	switch c := get("COMPRESSION"); c {
	case "", "none":
	case "gzip":
		e.gzip = true
	default:
		return nil, fmt.Errorf("OTLP compression %q: want gzip or none", c)
	}
	e.headers.Set("Content-Type", "application/x-protobuf")
	if e.gzip {
		e.headers.Set("Content-Encoding", "gzip")
	}
	for _, name := range []string{"CERTIFICATE", "CLIENT_CERTIFICATE", "CLIENT_KEY"} {
		if get(name) != "" {
			return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_%s is not supported: the exporter trusts the system's certificates", name)
		}
	}

	tr := http.DefaultTransport.(*http.Transport).Clone()
	// As many idle connections as exports may run at once (concurrent
	// invocations' flushes and background exports): fewer, and each wave
	// of concurrent flushes would close some and dial them again.
	tr.MaxIdleConnsPerHost = maxExports
	e.client = &http.Client{Transport: tr}
	return e, nil
}

// parseHeaders reads "key=value,key2=value2", values URL-encoded, into h.
func parseHeaders(v string, h http.Header) error {
	for pair := range strings.SplitSeq(v, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, val, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return fmt.Errorf("%q is not key=value", pair)
		}
		decoded, err := url.PathUnescape(strings.TrimSpace(val))
		if err != nil {
			return fmt.Errorf("header %s: %w", k, err)
		}
		h.Set(k, decoded)
	}
	return nil
}

func (e *otlpHTTPExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if e.stopped.Load() {
		// Said, not swallowed: spans handed to a stopped exporter are lost.
		return fmt.Errorf("otlp: exporter is shut down: %d spans not sent", len(spans))
	}
	if len(spans) == 0 {
		return nil
	}
	// A fresh buffer each time: the transport may still read a request's
	// body after Do has returned (net/http.RoundTripper's contract), so a
	// reused one could change under it.
	groups := group(encodeSpans(spans))
	body := appendRequest(make([]byte, 0, requestSizeHint(groups)), groups)
	if e.gzip {
		var z bytes.Buffer
		w := gzip.NewWriter(&z)
		if _, err := w.Write(body); err != nil {
			return fmt.Errorf("otlp: gzip: %w", err)
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("otlp: gzip: %w", err)
		}
		body = z.Bytes()
	}

	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	delay := otlpFirstRetryDelay
	// last is the latest failure that says something of the collector: an
	// attempt cut short by the deadline says only that, and a report of
	// "context deadline exceeded" alone would hide a collector that
	// refused every connection before it.
	var last error
	for attempt := 1; ; attempt++ {
		retry, wait, err := e.post(ctx, body)
		if err != nil && !retry && ctx.Err() != nil && last != nil {
			return fmt.Errorf("otlp: gave up after %d attempts: %w (last: %w)", attempt, ctx.Err(), last)
		}
		if err == nil || !retry {
			return err
		}
		last = err
		if wait == 0 {
			// Full jitter, doubling up to the cap.
			wait = time.Duration(rand.Int64N(int64(delay))) + time.Millisecond
			delay = min(2*delay, e.maxDelay)
		} else if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			// The collector asks for more time than the export has left
			// (a flush has a second at most): the retry could never be
			// made, so waiting for it would only hold the invocation
			// until its flush bound for nothing.
			return fmt.Errorf("otlp: gave up after %d attempts: the collector asked to retry in %v, after the export's deadline: %w", attempt, wait, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("otlp: gave up after %d attempts: %w (last: %w)", attempt, ctx.Err(), last)
		}
	}
}

// post sends one request. It says whether a failure may be retried, and
// after how long the server asked for (0: not said).
func (e *otlpHTTPExporter) post(ctx context.Context, body []byte) (retry bool, wait time.Duration, err error) {
	resp, err := e.client.Do(e.request(ctx, body))
	if err != nil {
		// The collector may not be up yet (a cold start races the
		// extension): worth another try within the deadline.
		return ctx.Err() == nil, 0, fmt.Errorf("otlp: %w", err)
	}
	defer resp.Body.Close()
	respBody, _ := io.ReadAll(io.LimitReader(resp.Body, maxOTLPResponseBytes))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		if msg := partialSuccess(respBody); msg != "" {
			otel.Handle(errors.New("otlp: the collector rejected spans: " + msg))
		}
		return false, 0, nil
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusBadGateway,
		resp.StatusCode == http.StatusServiceUnavailable, resp.StatusCode == http.StatusGatewayTimeout:
		return true, time.Duration(retryAfter(resp)) * time.Second, fmt.Errorf("otlp: %s", resp.Status)
	}
	return false, 0, fmt.Errorf("otlp: %s answered %s: %.200s", e.url, resp.Status, respBody)
}

// request is what http.NewRequestWithContext would build for body, from
// the URL and headers prepared once: this runs at the end of every
// invocation, and parsing the URL and setting each header again showed in
// its profile.
func (e *otlpHTTPExporter) request(ctx context.Context, body []byte) *http.Request {
	req := (&http.Request{
		Method:     http.MethodPost,
		URL:        e.endpoint,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		// A copy: a request's headers are its own once sent.
		Header:        e.headers.Clone(),
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		// So that the transport can send it again on a fresh connection
		// when an idle one turns out closed.
		GetBody: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil },
		Host:    e.endpoint.Host,
	}).WithContext(ctx)
	return req
}

// partialSuccess reads an ExportTraceServiceResponse's partial_success
// (field 1: rejected_spans = 1, error_message = 2) and says what it reports,
// or "" when all was accepted.
func partialSuccess(b []byte) string {
	var rejected int64
	var msg string
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return ""
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			inner, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return ""
			}
			b = b[n:]
			for len(inner) > 0 {
				f, t, m := protowire.ConsumeTag(inner)
				if m < 0 {
					return ""
				}
				inner = inner[m:]
				switch {
				case f == 1 && t == protowire.VarintType:
					v, m := protowire.ConsumeVarint(inner)
					if m < 0 {
						return ""
					}
					rejected, inner = int64(v), inner[m:]
				case f == 2 && t == protowire.BytesType:
					v, m := protowire.ConsumeString(inner)
					if m < 0 {
						return ""
					}
					msg, inner = v, inner[m:]
				default:
					m := protowire.ConsumeFieldValue(f, t, inner)
					if m < 0 {
						return ""
					}
					inner = inner[m:]
				}
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return ""
		}
		b = b[n:]
	}
	if rejected == 0 && msg == "" {
		return ""
	}
	return fmt.Sprintf("%d spans: %s", rejected, msg)
}

// returnsWhenContextEnds: net/http ends a request, and the retry wait
// ends, when the export's context does (contextBound).
func (*otlpHTTPExporter) returnsWhenContextEnds() {}

func (e *otlpHTTPExporter) Shutdown(context.Context) error {
	e.stopped.Store(true)
	e.client.CloseIdleConnections()
	return nil
}

// retryAfter reads a Retry-After header given in seconds, capped so that a
// collector cannot hold an invocation for long. The function's own HTTP
// client has a helper like it (internal/functions/resilience): this package
// is copied without the rest of the repository, so it keeps its own.
func retryAfter(resp *http.Response) int {
	s, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || s <= 0 {
		return 0
	}
	return min(s, 5)
}
