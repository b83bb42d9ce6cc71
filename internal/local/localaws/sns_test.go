package localaws_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/internal/local/localaws"
	"github.com/xray-tracer/xray-tracer/internal/local/sandbox"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest"
)

// bootstrap builds a test function as Lambda runs it: by default the
// sandbox package's echo function, which answers with the event and trace
// header it got.
func bootstrap(t *testing.T, pkg string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs a Lambda bootstrap")
	}
	bin := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build echo: %v\n%s", err, b)
	}
	return bin
}

const echo = "../sandbox/testdata/echo"

const fanout = "arn:aws:sns:us-east-1:123456789012:fan-out"

type snsRig struct {
	url   string
	spans func() map[string]tracetest.SpanStub // the recorded spans, by name
	invs  chan localaws.Invocation
}

func newSNSRig(t *testing.T, pkg string) *snsRig {
	t.Helper()
	tr, exp := otelsetuptest.New(t)
	l, err := localaws.StartLambda(t.Context(), []sandbox.Function{{Name: "echo", Bootstrap: bootstrap(t, pkg)}}, 1,
		func(string) trace.Tracer { return tr.TracerProvider().Tracer("test") })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	invs := make(chan localaws.Invocation, 10)
	l.Observe = func(inv localaws.Invocation) { invs <- inv }
	ep := localaws.NewSNSEndpoint(l, []localaws.Subscription{{TopicARN: fanout, Function: "echo"}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ep.RetryDelays = []time.Duration{10 * time.Millisecond, 10 * time.Millisecond}
	srv := httptest.NewServer(ep)
	t.Cleanup(func() {
		srv.Close()
		_ = ep.Close(t.Context())
	})
	return &snsRig{
		url:  srv.URL + localaws.Path(localaws.Subscription{TopicARN: fanout, Function: "echo"}),
		invs: invs,
		spans: func() map[string]tracetest.SpanStub {
			tr.Flush(t.Context())
			out := map[string]tracetest.SpanStub{}
			for _, s := range exp.GetSpans() {
				out[s.Name] = s
			}
			return out
		},
	}
}

func post(t *testing.T, url string, body []byte) int {
	t.Helper()
	resp, err := http.Post(url, "text/plain; charset=UTF-8", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (r *snsRig) next(t *testing.T) localaws.Invocation {
	t.Helper()
	select {
	case inv := <-r.invs:
		return inv
	case <-time.After(10 * time.Second):
		t.Fatal("no invocation within 10 s")
		return localaws.Invocation{}
	}
}

// TestSNSEndpointInvokesInTheTopicsTrace: the subscriber gets Lambda's SNS
// event, without the keeper's attribute, and a trace header whose Parent is
// the Lambda service's span, itself a child of the topic's span.
func TestSNSEndpointInvokesInTheTopicsTrace(t *testing.T) {
	r := newSNSRig(t, echo)
	topic := "Root=1-6b0652bc-3d8dbcca3b428f42645ea3e6;Parent=53995c3f42cd8ad8;Sampled=1"
	body := `{"Type":"Notification","MessageId":"m-1","TopicArn":"` + fanout + `","Message":"/hello",` +
		`"Timestamp":"2026-11-25T03:00:00Z","SignatureVersion":"1","Signature":"s","SigningCertURL":"https://example.test/c.pem",` +
		`"MessageAttributes":{"own":{"Type":"String","Value":"kept"},"` + localaws.TraceHeaderAttribute + `":{"Type":"String","Value":"` + topic + `"}}}`
	if got := post(t, r.url, []byte(body)); got != http.StatusOK {
		t.Fatalf("delivery answered %d, want 200", got)
	}
	inv := r.next(t)
	if inv.Failed() {
		t.Fatalf("invocation failed: %v %v", inv.Err, inv.Failure)
	}
	var out struct {
		Event   events.SNSEvent `json:"event"`
		TraceID string          `json:"traceId"`
	}
	if err := json.Unmarshal(inv.Payload, &out); err != nil {
		t.Fatal(err)
	}
	rec := out.Event.Records[0]
	if rec.EventSource != "aws:sns" || rec.SNS.Message != "/hello" || !strings.HasPrefix(rec.EventSubscriptionArn, fanout+":") {
		t.Errorf("event record = %+v", rec)
	}
	if _, ok := rec.SNS.MessageAttributes[localaws.TraceHeaderAttribute]; ok || rec.SNS.MessageAttributes["own"] == nil {
		t.Errorf("message attributes = %v, want the caller's only", rec.SNS.MessageAttributes)
	}
	lambdaSpan, ok := r.spans()["echo"]
	if !ok {
		t.Fatal("no span of the Lambda service for the invocation")
	}
	// Lambda's span continues the topic's (the header's Parent)…
	if p := lambdaSpan.Parent; p.TraceID().String() != "6b0652bc3d8dbcca3b428f42645ea3e6" || p.SpanID().String() != "53995c3f42cd8ad8" || !p.IsRemote() {
		t.Errorf("Lambda span's parent %v, want the topic's span 53995c3f42cd8ad8 in its trace", p)
	}
	// …and the function continues Lambda's.
	link, ok := otelsetup.LinkFromTraceHeader(out.TraceID)
	if !ok {
		t.Fatalf("the function's trace header %q names no parent", out.TraceID)
	}
	got := link.SpanContext
	if got.TraceID() != lambdaSpan.SpanContext.TraceID() || got.SpanID() != lambdaSpan.SpanContext.SpanID() {
		t.Errorf("the function's trace header %q, want the topic's trace with Parent = the Lambda span %s", out.TraceID, lambdaSpan.SpanContext.SpanID())
	}
}

// TestSNSEndpointRetriesAsLambda: an asynchronous invocation whose function
// fails is tried twice more, then dropped.
func TestSNSEndpointRetriesAsLambda(t *testing.T) {
	r := newSNSRig(t, "./testdata/fail")
	body := `{"Type":"Notification","MessageId":"m-2","TopicArn":"` + fanout + `","Message":"/","Timestamp":"2026-11-25T03:00:00Z"}`
	if got := post(t, r.url, []byte(body)); got != http.StatusOK {
		t.Fatalf("delivery answered %d, want 200", got)
	}
	for i := range 3 {
		if inv := r.next(t); inv.Err == nil || inv.Err.Message != "fails on purpose" {
			t.Fatalf("attempt %d: %+v, want the function's error", i+1, inv)
		}
	}
	select {
	case inv := <-r.invs:
		t.Errorf("a fourth attempt: %+v", inv)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestSNSEndpointRefusesBadDeliveries: what is not a notification for a
// subscription gets an error status and invokes nothing.
func TestSNSEndpointRefusesBadDeliveries(t *testing.T) {
	r := newSNSRig(t, echo)
	tests := []struct {
		name string
		url  string
		body string
		want int
	}{
		{"not JSON", r.url, `{"Type":`, http.StatusBadRequest},
		{"no type", r.url, `{"MessageId":"m","TopicArn":"` + fanout + `"}`, http.StatusBadRequest},
		{"unknown subscription", r.url + "-other", `{}`, http.StatusNotFound},
		{"too large", r.url, `{"Message":"` + strings.Repeat("a", 600<<10) + `"}`, http.StatusRequestEntityTooLarge},
		{"confirmation", r.url, `{"Type":"SubscriptionConfirmation","MessageId":"m","TopicArn":"` + fanout + `","SubscribeURL":"http://x/"}`, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := post(t, tt.url, []byte(tt.body)); got != tt.want {
				t.Errorf("POST %s = %d, want %d", tt.name, got, tt.want)
			}
		})
	}
	select {
	case inv := <-r.invs:
		t.Errorf("a bad delivery invoked the function: %+v", inv)
	case <-time.After(200 * time.Millisecond):
	}
}
