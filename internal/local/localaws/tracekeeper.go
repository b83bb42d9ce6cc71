package localaws

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

// TraceHeaderAttribute is the SNS message attribute in which the keeper
// carries a Publish call's trace header to the subscribers. The local SNS
// emulator passes message attributes through to HTTP subscribers but not
// the header, and the notification's MessageId differs from the one Publish
// returned, so the attribute is the one thing that reaches the subscriber
// endpoint. Subscribers strip it: the functions never see it.
const TraceHeaderAttribute = "LocalRunner.TraceHeader"

// TraceKeeper is a reverse proxy in front of the local SNS and SQS emulator
// that keeps what the emulator drops: the X-Amzn-Trace-Id header of each
// Publish and SendMessage call, which AWS hands on to the subscriber or the
// consumer.
//   - SNS Publish: with active tracing, SNS passes the trace header on to the
//     subscribers it delivers to
//     (https://docs.aws.amazon.com/xray/latest/devguide/xray-services-sns.html).
//     The keeper adds it to the message as TraceHeaderAttribute.
//   - SQS SendMessage: SQS stores the sender's X-Amzn-Trace-Id as the
//     message's AWSTraceHeader system attribute, which receivers get
//     (https://docs.aws.amazon.com/xray/latest/devguide/xray-services-sqs.html).
//     The keeper records it under the MessageId the emulator answers with;
//     AWSTraceHeader looks it up.
//
// Every other call passes through untouched.
type TraceKeeper struct {
	proxy   *httputil.ReverseProxy
	tracers Tracers

	mu      sync.Mutex
	headers map[string]string // SQS MessageId → trace header
	order   []string          // oldest first, to bound headers
}

// maxKeptHeaders bounds the SQS trace headers kept: past it the oldest go.
const maxKeptHeaders = 100000

// NewTraceKeeper proxies to the emulator at target. Each Publish call gets a
// span of its topic's (the segment SNS records), and the header handed to the
// subscribers names that span as their parent.
func NewTraceKeeper(target *url.URL, tracers Tracers) *TraceKeeper {
	k := &TraceKeeper{headers: map[string]string{}, tracers: tracers}
	k.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host
		},
		ModifyResponse: func(resp *http.Response) error {
			return errors.Join(k.recordSQS(resp), requestIDHeader(resp))
		},
	}
	return k
}

func (k *TraceKeeper) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if header := r.Header.Get("X-Amzn-Trace-Id"); header != "" && isForm(r) {
		if err := k.publish(w, r, header); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
		return
	}
	k.proxy.ServeHTTP(w, r)
}

// publish passes a call of the query protocol on. A Publish call gets its
// topic's span, from the caller's header to the emulator's answer (which
// comes once it has delivered to the HTTP subscribers), and the span's
// header as TraceHeaderAttribute.
func (k *TraceKeeper) publish(w http.ResponseWriter, r *http.Request, header string) error {
	body, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	if err != nil {
		return fmt.Errorf("read request: %w", err)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("Action") != "Publish" {
		r.Body = io.NopCloser(bytes.NewReader(body))
		k.proxy.ServeHTTP(w, r)
		return nil
	}
	link, ok := otelsetup.LinkFromTraceHeader(header)
	if !ok {
		return fmt.Errorf("publish: %q is not an X-Ray trace header naming a parent", header)
	}
	parent := link.SpanContext
	topicARN := form.Get("TopicArn")
	topic := topicARN[strings.LastIndex(topicARN, ":")+1:]
	ctx, span := k.tracers(topic).Start(trace.ContextWithRemoteSpanContext(r.Context(), parent), topic,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			semconv.CloudProviderAWS,
			semconv.MessagingSystemAWSSNS,
			semconv.MessagingDestinationName(topic),
			semconv.MessagingOperationName("publish"),
		))
	defer span.End()

	addTraceAttribute(form, traceHeader(ctx))
	body = []byte(form.Encode())
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	k.proxy.ServeHTTP(rec, r)
	if rec.status >= 400 {
		span.SetStatus(codes.Error, http.StatusText(rec.status))
	}
	return nil
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

// AWSTraceHeader returns the trace header SQS would give the message with
// this id as its AWSTraceHeader attribute, if its sender sent one.
func (k *TraceKeeper) AWSTraceHeader(messageID string) (string, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	h, ok := k.headers[messageID]
	return h, ok
}

// Forget drops the header of a message that is gone (deleted or moved to
// the dead-letter queue).
func (k *TraceKeeper) Forget(messageID string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.headers, messageID)
}

func (k *TraceKeeper) keep(messageID, header string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.headers[messageID]; !ok {
		k.order = append(k.order, messageID)
	}
	k.headers[messageID] = header
	for len(k.order) > maxKeptHeaders {
		delete(k.headers, k.order[0])
		k.order = k.order[1:]
	}
}

// recordSQS keeps the trace header of a successful SendMessage under the
// MessageId of the answer (SQS's JSON protocol: X-Amz-Target names the
// operation).
func (k *TraceKeeper) recordSQS(resp *http.Response) error {
	req := resp.Request
	header := req.Header.Get("X-Amzn-Trace-Id")
	if header == "" || resp.StatusCode != http.StatusOK || req.Header.Get("X-Amz-Target") != "AmazonSQS.SendMessage" {
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return fmt.Errorf("read SendMessage answer: %w", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var out struct {
		MessageID string `json:"MessageId"`
	}
	if json.Unmarshal(body, &out) == nil && out.MessageID != "" {
		k.keep(out.MessageID, header)
	}
	return nil
}

// requestIDHeader copies the request ID of a query-protocol answer (SNS)
// from its body's ResponseMetadata into the x-amzn-RequestId header, where
// AWS sends it too and where the AWS SDK for Go reads it (its
// RequestIDRetriever middleware): goaws writes it in the body only, so the
// SDK, and the trace, would have none.
func requestIDHeader(resp *http.Response) error {
	if resp.Header.Get("X-Amzn-Requestid") != "" || !isForm(resp.Request) {
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	_, rest, ok := strings.Cut(string(body), "<RequestId>")
	id, _, closed := strings.Cut(rest, "</RequestId>")
	if ok && closed && id != "" {
		resp.Header.Set("X-Amzn-Requestid", strings.TrimSpace(id))
	}
	return nil
}

// isForm reports whether r is a call in the query protocol, which SNS uses.
func isForm(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded")
}

// addTraceAttribute adds header as TraceHeaderAttribute to a Publish call's
// message attributes (MessageAttributes.entry.N.*, N after the caller's).
func addTraceAttribute(form url.Values, header string) {
	n := 1
	for form.Has("MessageAttributes.entry." + strconv.Itoa(n) + ".Name") {
		n++
	}
	prefix := "MessageAttributes.entry." + strconv.Itoa(n) + "."
	form.Set(prefix+"Name", TraceHeaderAttribute)
	form.Set(prefix+"Value.DataType", "String")
	form.Set(prefix+"Value.StringValue", header)
}
