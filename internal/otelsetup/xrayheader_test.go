package otelsetup_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest/awstest"
)

// A header as Lambda passes it with recursive loop detection on: Lineage is
// its count of the hops of one event (the format Lambda writes today).
const (
	lineageHeader = "Root=1-674a8c00-5759e988bd862e3fe1be46a9;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=1:fe460cdd:0"
	lambdaRoot    = "Root=1-674a8c00-5759e988bd862e3fe1be46a9"
	lambdaParentX = "53995c3f42cd8ad8"
)

// headerRecorder is an external API that keeps the X-Amzn-Trace-Id header of
// every request.
type headerRecorder struct {
	mu      sync.Mutex
	headers []string
}

func (r *headerRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.headers = append(r.headers, req.Header.Get("X-Amzn-Trace-Id"))
	r.mu.Unlock()
	_, _ = w.Write([]byte("ok"))
}

// TestTraceHeaderFieldsTravelOn: every call an invocation makes (DynamoDB,
// SQS, whose X-Amzn-Trace-Id becomes the message's AWSTraceHeader, SNS, and
// an external API) carries the invocation's Root, a Parent of its own, and
// Lineage as it arrived, so Lambda can stop a recursive loop. It holds when
// aws-lambda-go sets _X_AMZN_TRACE_ID (one invocation at a time), when it
// does not (AWS_LAMBDA_MAX_CONCURRENCY > 1), and with OTEL_SDK_DISABLED,
// where the header goes on unchanged.
func TestTraceHeaderFieldsTravelOn(t *testing.T) {
	tests := []struct {
		name     string
		env      bool // _X_AMZN_TRACE_ID set, as with one invocation at a time
		disabled bool
	}{
		{"one invocation at a time", true, false},
		{"concurrent invocations", false, false},
		{"SDK disabled, one at a time", true, true},
		{"SDK disabled, concurrent", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The AWS SDK's recursion-detection middleware copies
			// _X_AMZN_TRACE_ID into the request when it runs in Lambda.
			t.Setenv("AWS_LAMBDA_FUNCTION_NAME", "test-function")
			t.Setenv("_X_AMZN_TRACE_ID", "")
			if tt.env {
				t.Setenv("_X_AMZN_TRACE_ID", lineageHeader)
			}
			t.Setenv("OTEL_SDK_DISABLED", "false")
			if tt.disabled {
				t.Setenv("OTEL_SDK_DISABLED", "true")
			}
			tr, exp := otelsetuptest.New(t)
			srv := awstest.New(t)
			cfg := srv.Config(t, tr.AWSConfig)
			api := &headerRecorder{}
			ext := httptest.NewServer(api)
			defer ext.Close()
			client := tr.HTTPClient()

			h := otelsetup.Wrap(tr, func(ctx context.Context, _ events.SNSEvent) (string, error) {
				if _, err := dynamodb.NewFromConfig(cfg).UpdateItem(ctx, &dynamodb.UpdateItemInput{
					TableName: aws.String("Hits"),
					Key:       map[string]types.AttributeValue{"path": &types.AttributeValueMemberS{Value: "/"}},
				}); err != nil {
					return "", err
				}
				if _, err := sqs.NewFromConfig(cfg).SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String("https://q"), MessageBody: aws.String("hi")}); err != nil {
					return "", err
				}
				if _, err := sns.NewFromConfig(cfg).Publish(ctx, &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:eu-west-1:123456789012:t"), Message: aws.String("hi")}); err != nil {
					return "", err
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ext.URL, nil)
				resp, err := client.Do(req)
				if err != nil {
					return "", err
				}
				return "done", resp.Body.Close()
			})
			if _, err := h.Invoke(otelsetuptest.InvocationContext("req-1", lineageHeader), []byte(`{"Records":[]}`)); err != nil {
				t.Fatal(err)
			}

			var sent []string
			for _, r := range srv.Requests() {
				sent = append(sent, r.Operation+": "+r.Header.Get("X-Amzn-Trace-Id"))
			}
			for _, hd := range api.headers {
				sent = append(sent, "external API: "+hd)
			}
			if len(sent) != 4 {
				t.Fatalf("got %d calls, want 4: %q", len(sent), sent)
			}
			spanIDs := map[string]bool{}
			for _, s := range exp.GetSpans() {
				spanIDs[s.SpanContext.SpanID().String()] = true
			}
			for _, s := range sent {
				call, header, _ := strings.Cut(s, ": ")
				if tt.disabled {
					if header != lineageHeader {
						t.Errorf("%s sent %q, want the invocation's header unchanged", call, header)
					}
					continue
				}
				parent, ok := strings.CutPrefix(header, lambdaRoot+";Parent=")
				parent, rest, _ := strings.Cut(parent, ";")
				if !ok || rest != "Sampled=1;Lineage=1:fe460cdd:0" {
					t.Errorf("%s sent %q, want %s;Parent=<its span>;Sampled=1;Lineage=1:fe460cdd:0", call, header, lambdaRoot)
				}
				if parent == lambdaParentX || !spanIDs[parent] {
					t.Errorf("%s sent Parent=%s, want the id of one of the invocation's spans", call, parent)
				}
			}
		})
	}
}

// TestTraceHeaderSampling: Sampled=? leaves the decision to the function's
// sampler, as a root decision on the header's Root; it never means "not
// sampled". A header without Parent continues its Root, following its
// Sampled flag.
func TestTraceHeaderSampling(t *testing.T) {
	const deferred = "Root=1-674a8c00-5759e988bd862e3fe1be46a9;Parent=53995c3f42cd8ad8;Sampled=?"
	tests := []struct {
		name, header, sampler, arg string
		wantSampled                bool
		wantParent                 string
	}{
		{"? with the default sampler", deferred, "", "", true, lambdaParentX},
		{"? with always_on", deferred, "always_on", "", true, lambdaParentX},
		{"? with always_off", deferred, "always_off", "", false, ""},
		{"? with parentbased_traceidratio 1", deferred, "parentbased_traceidratio", "1", true, lambdaParentX},
		{"? with parentbased_traceidratio 0", deferred, "parentbased_traceidratio", "0", false, ""},
		{"? with parentbased_always_off", deferred, "parentbased_always_off", "", false, ""},
		{"no Sampled field", "Root=1-674a8c00-5759e988bd862e3fe1be46a9;Parent=53995c3f42cd8ad8", "", "", true, lambdaParentX},
		{"? after a space", "Root=1-674a8c00-5759e988bd862e3fe1be46a9; Parent=53995c3f42cd8ad8; Sampled=?", "", "", true, lambdaParentX},
		{"spaces: Parent kept", "Root=1-674a8c00-5759e988bd862e3fe1be46a9; Parent=53995c3f42cd8ad8; Sampled=1", "", "", true, lambdaParentX},
		{"spaces around =", "Root = 1-674a8c00-5759e988bd862e3fe1be46a9 ; Parent = 53995c3f42cd8ad8 ; Sampled = 1", "", "", true, lambdaParentX},
		{"Root alone", "Root=1-674a8c00-5759e988bd862e3fe1be46a9", "", "", true, ""},
		{"Root and Sampled=1", "Root=1-674a8c00-5759e988bd862e3fe1be46a9;Sampled=1", "", "", true, ""},
		{"Root and Sampled=0", "Root=1-674a8c00-5759e988bd862e3fe1be46a9;Sampled=0;Lineage=1:fe460cdd:0", "", "", false, ""},
		{"Sampled=0 stays unsampled", "Root=1-674a8c00-5759e988bd862e3fe1be46a9;Parent=53995c3f42cd8ad8;Sampled=0", "", "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("_X_AMZN_TRACE_ID", "")
			t.Setenv("OTEL_TRACES_SAMPLER", tt.sampler)
			t.Setenv("OTEL_TRACES_SAMPLER_ARG", tt.arg)
			tr, exp := otelsetuptest.New(t)
			var inner trace.SpanContext
			h := otelsetup.Wrap(tr, func(ctx context.Context, _ events.SNSEvent) (string, error) {
				inner = trace.SpanContextFromContext(ctx)
				return "done", nil
			})
			if _, err := h.Invoke(otelsetuptest.InvocationContext("req-1", tt.header), []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
			if got := inner.TraceID().String(); got != "674a8c005759e988bd862e3fe1be46a9" {
				t.Errorf("trace = %s, want the header's Root", got)
			}
			if inner.IsSampled() != tt.wantSampled {
				t.Errorf("sampled = %v, want %v", inner.IsSampled(), tt.wantSampled)
			}
			spans := exp.GetSpans()
			if !tt.wantSampled {
				if len(spans) != 0 {
					t.Errorf("exported %d spans, want none", len(spans))
				}
				return
			}
			if len(spans) != 1 {
				t.Fatalf("exported %d spans, want the invocation's", len(spans))
			}
			parent := ""
			if p := spans[0].Parent; p.IsValid() {
				parent = p.SpanID().String()
			}
			if parent != tt.wantParent {
				t.Errorf("parent = %q, want %q", parent, tt.wantParent)
			}
		})
	}
}

// TestMalformedTraceHeaderReportedOnce: a header that does not parse is
// reported once through OpenTelemetry's error handler, and the invocation
// answers, in a new trace.
func TestMalformedTraceHeaderReportedOnce(t *testing.T) {
	for _, header := range []string{
		"Root=not-a-trace;Parent=53995c3f42cd8ad8;Sampled=1",
		"Root=1-674a8c00-5759e988bd862e3fe1be46a9;Parent=zz;Sampled=1",
		"Parent=53995c3f42cd8ad8;Sampled=1",
		"garbage",
	} {
		t.Run(header, func(t *testing.T) {
			t.Setenv("_X_AMZN_TRACE_ID", "")
			seen := captureErrors(t)
			tr, exp := otelsetuptest.New(t)
			out, err := otelsetuptest.Invoke[string](t, otelsetuptest.InvocationContext("req-1", header), otelsetup.Wrap(tr, okHandler), []byte(`{}`))
			if err != nil || out != "done" {
				t.Fatalf("invocation = %q, %v; want done, nil", out, err)
			}
			var reports []error
			for _, e := range seen.all() {
				if strings.Contains(e.Error(), "trace header") {
					reports = append(reports, e)
				}
			}
			if len(reports) != 1 || !strings.Contains(reports[0].Error(), header) {
				t.Errorf("reports = %v, want one that quotes %q", reports, header)
			}
			if n := len(exp.GetSpans()); n != 1 {
				t.Errorf("exported %d spans, want the invocation's", n)
			}
		})
	}
}

// TestStaleEnvironmentHeaderIsIgnored: aws-lambda-go always puts the
// invocation's header in the context (empty when Lambda sent none) and sets
// _X_AMZN_TRACE_ID only while one invocation runs at a time. A value left in
// the environment must not parent an invocation whose context says it has
// no header, as with AWS_LAMBDA_MAX_CONCURRENCY > 1.
func TestStaleEnvironmentHeaderIsIgnored(t *testing.T) {
	t.Setenv("_X_AMZN_TRACE_ID", lineageHeader)
	tr, exp := otelsetuptest.New(t)
	//lint:ignore SA1029 aws-lambda-go stores the header under this plain string key.
	ctx := context.WithValue(otelsetuptest.InvocationContext("req-1", ""), "x-amzn-trace-id", "")
	if _, err := otelsetup.Wrap(tr, okHandler).Invoke(ctx, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("exported %d spans, want 1", len(spans))
	}
	if s := spans[0]; s.Parent.IsValid() || s.SpanContext.TraceID().String() == "674a8c005759e988bd862e3fe1be46a9" {
		t.Errorf("invocation span in trace %s under %s: want a new trace, not the environment's", s.SpanContext.TraceID(), s.Parent.SpanID())
	}
}
