package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/internal/functions/pattern"
	"github.com/xray-tracer/xray-tracer/internal/local/lambdaevents"
	"github.com/xray-tracer/xray-tracer/internal/local/localaws"
	"github.com/xray-tracer/xray-tracer/internal/local/sandbox"
	"github.com/xray-tracer/xray-tracer/internal/local/xrayapi"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

// Region is the region the harness runs the pattern in.
const Region = "eu-west-1"

// Account is the account of every ARN the harness makes.
const Account = "123456789012"

// The pattern's resources, as the SAM template names them.
const (
	TableName     = "Hits"
	QueueName     = "hello-queue"
	FanoutTopic   = "fan-out"
	SecondTopic   = "second-topic"
	APIStageName  = "xray-tracer-api/prod"
	fanoutTopicID = "arn:aws:sns:" + Region + ":" + Account + ":" + FanoutTopic
	secondTopicID = "arn:aws:sns:" + Region + ":" + Account + ":" + SecondTopic
	queueARN      = "arn:aws:sqs:" + Region + ":" + Account + ":" + QueueName
)

// FanoutSubscribers are the functions subscribed to the fan-out topic.
var FanoutSubscribers = []string{"dynamo", "http", "sqs", "sns-publish"}

// PatternConfig says how to run the pattern.
type PatternConfig struct {
	Bootstraps map[string]string // function name → bootstrap binary
	XRay       *XRay             // where the AWS services' own segments go
	// HTTPFailureRate is the http function's FAILURE_RATE; HTTPTargetStatus
	// is what the external API answers it (200 unless set).
	HTTPFailureRate  float64
	HTTPTargetStatus int
	// HTTPTargetDelay is how long the external API waits before it answers.
	HTTPTargetDelay time.Duration
	// HTTPTargetURL, if set, makes the URL the http function is given
	// (TARGET_URL) from the external API's: to add a query or a user and
	// password, as a presigned or authenticated URL has.
	HTTPTargetURL func(base string) string
	// HTTPTargetHeaders are set on every answer of the external API.
	HTTPTargetHeaders map[string]string
	// HTTPTargetSeen, if set, is called with each request the external API
	// receives.
	HTTPTargetSeen func(*http.Request)
	// Timeouts sets a function's Lambda timeout by name (10 s unless set).
	Timeouts map[string]time.Duration
	// Env is added to every function's environment (OTEL_* for instance).
	Env    map[string]string
	Stderr io.Writer // the functions' output; discarded if nil
}

// Pattern is the whole pattern running on this machine: each function's real
// bootstrap behind a Lambda stand-in, an AWS API stand-in (DynamoDB, SQS,
// SNS), and a local external API for the http function. The harness plays
// API Gateway, SNS and the SQS event source mapping, and records the
// segments these AWS services record with active tracing.
type Pattern struct {
	cfg     PatternConfig
	aws     *backends
	target  *http.Server
	lambdas map[string]*sandbox.Lambda
}

// StartPattern starts every function (they are ready when it returns).
func StartPattern(ctx context.Context, cfg PatternConfig) (*Pattern, error) {
	stderr := cfg.Stderr
	if stderr == nil {
		stderr = io.Discard
	}
	p := &Pattern{cfg: cfg, lambdas: map[string]*sandbox.Lambda{}}
	var err error
	if p.aws, err = startBackends(ctx, stderr); err != nil {
		return nil, err
	}
	targetURL, err := p.startTarget()
	if err != nil {
		p.Close()
		return nil, err
	}
	for _, name := range pattern.Functions {
		bin, ok := cfg.Bootstraps[name]
		if !ok {
			p.Close()
			return nil, fmt.Errorf("no bootstrap for function %s", name)
		}
		env := map[string]string{
			"OTEL_SERVICE_NAME": name,
			"TABLE_NAME":        TableName,
			"TOPIC_ARN":         secondTopicID,
			"TARGET_URL":        targetURL,
			"FAILURE_RATE":      strconv.FormatFloat(cfg.HTTPFailureRate, 'g', -1, 64),
		}
		for k, v := range p.aws.env {
			env[k] = v
		}
		for k, v := range cfg.Env {
			env[k] = v
		}
		timeout := 10 * time.Second
		if d, ok := cfg.Timeouts[name]; ok {
			timeout = d
		}
		l, err := sandbox.Start(ctx, sandbox.Function{Name: name, Bootstrap: bin, Env: env, Region: Region, Timeout: timeout, Stdout: stderr, Stderr: stderr})
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("start %s: %w", name, err)
		}
		p.lambdas[name] = l
	}
	return p, nil
}

// Close stops everything StartPattern started.
func (p *Pattern) Close() {
	for _, l := range p.lambdas {
		_ = l.Close()
	}
	if p.target != nil {
		_ = p.target.Close()
	}
	if p.aws != nil {
		p.aws.close()
	}
}

// startTarget serves the http function's external API on a loopback port.
func (p *Pattern) startTarget() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("listen for the external API: %w", err)
	}
	status := p.cfg.HTTPTargetStatus
	if status == 0 {
		status = http.StatusOK
	}
	delay := p.cfg.HTTPTargetDelay
	p.target = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.cfg.HTTPTargetSeen != nil {
			p.cfg.HTTPTargetSeen(r)
		}
		for k, v := range p.cfg.HTTPTargetHeaders {
			w.Header().Set(k, v)
		}
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"status":%d}`, status)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = p.target.Serve(ln) }()
	u := "http://" + ln.Addr().String() + "/status"
	if p.cfg.HTTPTargetURL != nil {
		u = p.cfg.HTTPTargetURL(u)
	}
	return u, nil
}

// Invocation is the outcome of one function's invocation.
type Invocation struct {
	Function string
	TraceID  string // X-Ray form, 1-xxxxxxxx-…
	// SegmentID is the id of the AWS::Lambda::Function segment Lambda
	// recorded: the Parent of the invocation's trace header.
	SegmentID string
	Result    sandbox.Result
}

// Request is what one API request set off.
type Request struct {
	Path        string
	TraceID     string // the API request's trace
	Invocations []Invocation
}

// Request sends one GET path through the pattern: API Gateway publishes the
// path to the fan-out topic, SNS invokes the four subscribers, the sqs
// function's message reaches sqs-subscribe through the event source mapping,
// and sns-publish's message reaches sns-subscribe.
func (p *Pattern) Request(ctx context.Context, path string) (Request, error) {
	req := Request{Path: path, TraceID: newTraceID()}
	start := now()
	apiID, integrationID := newSegmentID(), newSegmentID()
	topicID := newSegmentID()

	// API Gateway's stage segment, with the subsegment of its SNS
	// integration, and the fan-out topic's segment under it: what X-Ray
	// records for a REST API with tracing on and SNS with active tracing.
	// https://docs.aws.amazon.com/xray/latest/devguide/xray-services-apigateway.html
	// https://docs.aws.amazon.com/xray/latest/devguide/xray-services-sns.html
	stage := xrayapi.Stage{
		Name: APIStageName, TraceID: req.TraceID, ID: apiID, IntegrationID: integrationID,
		Start: start, Method: http.MethodGet, URL: "https://api.example.test/prod" + path,
		Status: http.StatusOK, Region: Region,
	}

	var errs []error
	for _, name := range FanoutSubscribers {
		inv, err := p.invokeFromSNS(ctx, name, req.TraceID, topicID, fanoutTopicID, path)
		req.Invocations = append(req.Invocations, inv)
		errs = append(errs, err)
	}
	stage.End = now()
	p.cfg.XRay.Add(stage.Segment(), xrayapi.Topic(FanoutTopic, fanoutTopicID, req.TraceID, topicID, integrationID, start, stage.End, false))

	// What the functions sent on, as SQS and SNS hand it over: the sqs
	// function's message, with the AWSTraceHeader SQS set from its
	// SendMessage call, and sns-publish's notification, which SNS delivers
	// in the trace of the topic's segment (the keeper's topic span, whose
	// parent is the Publish call).
	msg, err := p.aws.receive(ctx, p.aws.queue)
	if err != nil {
		errs = append(errs, fmt.Errorf("the sqs function's message: %w", err))
	} else {
		header, _ := p.aws.keeper.AWSTraceHeader(aws.ToString(msg.MessageId))
		inv, err := p.invokeFromSQS(ctx, msg, header)
		req.Invocations = append(req.Invocations, inv)
		errs = append(errs, err)
	}
	note, err := p.aws.receive(ctx, p.aws.deliver)
	if err != nil {
		errs = append(errs, fmt.Errorf("sns-publish's notification: %w", err))
		return req, errors.Join(errs...)
	}
	n, err := lambdaevents.ParseNotification([]byte(aws.ToString(note.Body)))
	if err != nil {
		return req, errors.Join(append(errs, err)...)
	}
	a := n.MessageAttributes[localaws.TraceHeaderAttribute]
	header := a.Value
	if header == "" {
		header = a.StringValue
	}
	link, ok := otelsetup.LinkFromTraceHeader(header)
	if !ok {
		return req, errors.Join(append(errs, fmt.Errorf("sns-publish published without a trace header naming a parent: %q", header))...)
	}
	sc := link.SpanContext
	topicSpan, ok := p.aws.topicSpan(sc.SpanID())
	if !ok {
		return req, errors.Join(append(errs, fmt.Errorf("no topic span %s", sc.SpanID()))...)
	}
	root := xrayTraceID(sc.TraceID())
	t := now()
	inv, err := p.invokeFromSNS(ctx, "sns-subscribe", root, sc.SpanID().String(), secondTopicID, n.Message)
	p.cfg.XRay.Add(xrayapi.Topic(SecondTopic, secondTopicID, root, sc.SpanID().String(), topicSpan.Parent.SpanID().String(), t, now(), false))
	req.Invocations = append(req.Invocations, inv)
	errs = append(errs, err)
	return req, errors.Join(errs...)
}

// invokeFromSNS invokes a subscriber of a topic as SNS does, in the trace of
// the topic's segment.
func (p *Pattern) invokeFromSNS(ctx context.Context, name, traceID, topicSegmentID, topicARN, message string) (Invocation, error) {
	ev := events.SNSEvent{Records: []events.SNSEventRecord{{
		EventVersion:         "1.0",
		EventSource:          "aws:sns",
		EventSubscriptionArn: topicARN + ":" + newSegmentID(),
		SNS: events.SNSEntity{
			Type:      "Notification",
			MessageID: newSegmentID(),
			TopicArn:  topicARN,
			Message:   message,
			Timestamp: time.Now().UTC(),
		},
	}}}
	return p.invoke(ctx, name, ev, traceID, topicSegmentID, nil)
}

// invokeFromSQS invokes sqs-subscribe as the SQS event source mapping does:
// a batch of one record, the message as received, carrying the
// AWSTraceHeader that SQS set from the sender's X-Amzn-Trace-Id. Lambda
// starts a new trace for the batch and links it to the senders' traces.
// https://docs.aws.amazon.com/xray/latest/devguide/xray-tracelinking.html
func (p *Pattern) invokeFromSQS(ctx context.Context, msg sqstypes.Message, header string) (Invocation, error) {
	ev := lambdaevents.SQSEvent([]sqstypes.Message{msg}, queueARN, Region)
	var links []Link
	if header != "" {
		ev.Records[0].Attributes["AWSTraceHeader"] = header
		if root, parent, ok := parseHeader(header); ok {
			links = append(links, Link{TraceID: root, ID: parent})
		}
	}
	return p.invoke(ctx, "sqs-subscribe", ev, newTraceID(), "", links)
}

// invoke runs one invocation as Lambda does with active tracing: it records
// the AWS::Lambda segment (the service) and the AWS::Lambda::Function segment
// (the function), and passes the function segment's id as the Parent of the
// trace header, under which the function's own spans attach.
// https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html
func (p *Pattern) invoke(ctx context.Context, name string, event any, traceID, parentID string, links []Link) (Invocation, error) {
	inv := Invocation{Function: name, TraceID: traceID, SegmentID: newSegmentID()}
	payload, err := json.Marshal(event)
	if err != nil {
		return inv, err
	}
	serviceID := newSegmentID()
	header := fmt.Sprintf("Root=%s;Parent=%s;Sampled=1", traceID, inv.SegmentID)
	start := now()
	inv.Result, err = p.lambdas[name].Invoke(ctx, payload, header)
	end := now()
	arn := "arn:aws:lambda:" + Region + ":" + Account + ":function:" + name
	p.cfg.XRay.Add(xrayapi.Invocation{
		Function: name, ARN: arn, TraceID: traceID, ServiceID: serviceID, ParentID: parentID,
		FunctionID: inv.SegmentID, Start: start, End: end, RequestID: inv.Result.RequestID,
		Links: links, Failed: err != nil || inv.Result.Err != nil,
	}.Segments()...)
	if err != nil {
		return inv, fmt.Errorf("invoke %s: %w", name, err)
	}
	return inv, nil
}

// parseHeader reads Root and Parent from an X-Ray trace header.
func parseHeader(h string) (root, parent string, ok bool) {
	for part := range strings.SplitSeq(h, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Root":
			root = v
		case "Parent":
			parent = v
		}
	}
	return root, parent, root != "" && parent != ""
}

// newTraceID returns an X-Ray trace ID: version 1, the epoch second in hex,
// 96 random bits.
func newTraceID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return fmt.Sprintf("1-%08x-%s", time.Now().Unix(), hex.EncodeToString(b))
}

// xrayTraceID writes a trace id in X-Ray's form, 1-xxxxxxxx-….
func xrayTraceID(id trace.TraceID) string {
	h := id.String()
	return "1-" + h[:8] + "-" + h[8:]
}

// newSegmentID returns a 64-bit id in hex, as X-Ray wants segment ids.
func newSegmentID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func now() float64 { return float64(time.Now().UnixNano()) / 1e9 }

// FindInvocation returns the document that inv's invocation span became: the
// subsegment named after the function under Lambda's function segment.
func FindInvocation(docs []Segment, inv Invocation) *Segment {
	for i, d := range docs {
		if d.Name == inv.Function && d.ParentID == inv.SegmentID {
			return &docs[i]
		}
	}
	return nil
}

// WaitForInvocations waits until the invocation span of every invocation of
// reqs has reached x. Each function flushed before it answered; the
// collector's exporter sends on its own schedule.
func WaitForInvocations(ctx context.Context, x *XRay, reqs []Request) error {
	return x.WaitFor(ctx, func(segs []Segment) bool {
		for _, r := range reqs {
			for _, inv := range r.Invocations {
				if FindInvocation(segs, inv) == nil {
					return false
				}
			}
		}
		return true
	})
}
