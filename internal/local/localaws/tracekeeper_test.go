package localaws_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/internal/local/localaws"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest/awstest"
)

// keeperRig is a TraceKeeper in front of the AWS API stand-in, with traced
// SNS and SQS clients (the functions' own setup) pointed at the keeper.
type keeperRig struct {
	keeper *localaws.TraceKeeper
	aws    *awstest.Server
	sns    *sns.Client
	sqs    *sqs.Client
	flush  func() []spanInfo
}

type spanInfo struct {
	service, name string
	ctx, parent   trace.SpanContext
}

func newKeeperRig(t *testing.T) *keeperRig {
	t.Helper()
	fn, fnSpans := otelsetuptest.New(t)
	topics, topicSpans := otelsetuptest.New(t)
	upstream := awstest.New(t)
	target, _ := url.Parse(upstream.URL)
	k := localaws.NewTraceKeeper(target, func(string) trace.Tracer { return topics.TracerProvider().Tracer("test") })
	proxy := httptest.NewServer(k)
	t.Cleanup(proxy.Close)

	cfg := upstream.Config(t, fn.AWSConfig)
	return &keeperRig{
		keeper: k,
		aws:    upstream,
		sns:    sns.NewFromConfig(cfg, func(o *sns.Options) { o.BaseEndpoint = aws.String(proxy.URL) }),
		sqs:    sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(proxy.URL) }),
		flush: func() []spanInfo {
			fn.Flush(t.Context())
			topics.Flush(t.Context())
			var out []spanInfo
			for _, s := range fnSpans.GetSpans() {
				out = append(out, spanInfo{"function", s.Name, s.SpanContext, s.Parent})
			}
			for _, s := range topicSpans.GetSpans() {
				out = append(out, spanInfo{"topic", s.Name, s.SpanContext, s.Parent})
			}
			return out
		},
	}
}

func find(t *testing.T, spans []spanInfo, service, name string) spanInfo {
	t.Helper()
	for _, s := range spans {
		if s.service == service && s.name == name {
			return s
		}
	}
	t.Fatalf("no %s span %q among %v", service, name, spans)
	return spanInfo{}
}

// TestPublishCarriesTheTopicSpan: SNS records a segment for the topic under
// the publisher's call and passes the trace on to the subscribers; the
// keeper makes the topic's span and hands its header on in the message.
func TestPublishCarriesTheTopicSpan(t *testing.T) {
	r := newKeeperRig(t)
	_, err := r.sns.Publish(t.Context(), &sns.PublishInput{
		TopicArn: aws.String("arn:aws:sns:eu-west-1:123456789012:fan-out"),
		Message:  aws.String("/hello"),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{
			"own": {DataType: aws.String("String"), StringValue: aws.String("kept")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	spans := r.flush()
	publish := find(t, spans, "function", "SNS.Publish")
	topic := find(t, spans, "topic", "fan-out")
	if topic.parent.SpanID() != publish.ctx.SpanID() || topic.ctx.TraceID() != publish.ctx.TraceID() {
		t.Errorf("topic span parent %v, want the Publish call %v", topic.parent, publish.ctx)
	}

	reqs := r.aws.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests reached the emulator, want 1", len(reqs))
	}
	form := reqs[0].Form
	attrs := map[string]string{}
	for n := 1; form.Has(entry(n, "Name")); n++ {
		attrs[form.Get(entry(n, "Name"))] = form.Get(entry(n, "Value.StringValue"))
	}
	if attrs["own"] != "kept" {
		t.Errorf("the caller's attribute: %v", attrs)
	}
	link, ok := otelsetup.LinkFromTraceHeader(attrs[localaws.TraceHeaderAttribute])
	if !ok {
		t.Fatalf("attributes %v: no trace header naming a parent", attrs)
	}
	sc := link.SpanContext
	if sc.TraceID() != topic.ctx.TraceID() || sc.SpanID() != topic.ctx.SpanID() || !sc.IsSampled() {
		t.Errorf("the subscribers' header names %v, want the topic span %v, sampled", sc, topic.ctx)
	}
}

func entry(n int, field string) string {
	return "MessageAttributes.entry." + strconv.Itoa(n) + "." + field
}

// TestSendMessageKeepsTheHeader: SQS gives each message the sender's
// X-Amzn-Trace-Id as AWSTraceHeader.
func TestSendMessageKeepsTheHeader(t *testing.T) {
	r := newKeeperRig(t)
	out, err := r.sqs.SendMessage(t.Context(), &sqs.SendMessageInput{
		QueueUrl:    aws.String("https://sqs.eu-west-1.amazonaws.com/123456789012/hello-queue"),
		MessageBody: aws.String("hello from /"),
	})
	if err != nil {
		t.Fatal(err)
	}
	sent := r.aws.Requests()[0].Header.Get("X-Amzn-Trace-Id")
	got, ok := r.keeper.AWSTraceHeader(aws.ToString(out.MessageId))
	if !ok || got != sent || !strings.HasPrefix(got, "Root=1-") {
		t.Errorf("AWSTraceHeader(%s) = %q, %v; want the sender's %q", aws.ToString(out.MessageId), got, ok, sent)
	}
	r.keeper.Forget(aws.ToString(out.MessageId))
	if _, ok := r.keeper.AWSTraceHeader(aws.ToString(out.MessageId)); ok {
		t.Error("the header is still kept after Forget")
	}
}

// TestUntracedCallsPassThrough: without a trace header the keeper changes
// nothing and keeps nothing.
func TestUntracedCallsPassThrough(t *testing.T) {
	upstream := awstest.New(t)
	target, _ := url.Parse(upstream.URL)
	k := localaws.NewTraceKeeper(target, func(string) trace.Tracer { panic("no span without a trace") })
	proxy := httptest.NewServer(k)
	t.Cleanup(proxy.Close)
	cfg, err := config.LoadDefaultConfig(t.Context(), upstream.LoadOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	client := sns.NewFromConfig(cfg, func(o *sns.Options) { o.BaseEndpoint = aws.String(proxy.URL) })
	if _, err := client.Publish(t.Context(), &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:eu-west-1:123456789012:fan-out"), Message: aws.String("/")}); err != nil {
		t.Fatal(err)
	}
	if form := upstream.Requests()[0].Form; form.Has(entry(1, "Name")) {
		t.Errorf("an untraced Publish got attributes: %v", form)
	}
}

// TestRequestIDMovedToTheHeader: an emulator that writes the request ID in
// the body only (goaws) still gives the SDK, and so the span, an ID.
func TestRequestIDMovedToTheHeader(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, `<PublishResponse><PublishResult><MessageId>m-1</MessageId></PublishResult><ResponseMetadata><RequestId>req-42</RequestId></ResponseMetadata></PublishResponse>`)
	}))
	t.Cleanup(upstream.Close)
	target, _ := url.Parse(upstream.URL)
	proxy := httptest.NewServer(localaws.NewTraceKeeper(target, func(string) trace.Tracer { panic("untraced") }))
	t.Cleanup(proxy.Close)
	resp, err := http.Post(proxy.URL, "application/x-www-form-urlencoded", strings.NewReader("Action=Publish&Message=x"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if got := resp.Header.Get("X-Amzn-Requestid"); got != "req-42" || !strings.Contains(string(body), "m-1") {
		t.Errorf("x-amzn-RequestId %q, body %s; want req-42 and the body intact", got, body)
	}
}
