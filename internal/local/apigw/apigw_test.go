package apigw_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/xray-tracer/xray-tracer/internal/local/apigw"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest/awstest"
)

const topicARN = "arn:aws:sns:eu-west-1:000000000000:fan-out"

type rig struct {
	api *httptest.Server
	aws *awstest.Server
}

func start(t *testing.T, rate float64, burst int) (*rig, func() string) {
	t.Helper()
	tr, exp := otelsetuptest.New(t)
	srv := awstest.New(t)
	h := &apigw.Handler{
		SNS:      sns.NewFromConfig(srv.Config(t, tr.AWSConfig)),
		TopicARN: topicARN,
		Name:     "xray-tracer-api/prod",
		Tracer:   tr.TracerProvider().Tracer("apigw"),
		Rate:     rate,
		Burst:    burst,
	}
	api := httptest.NewServer(h)
	t.Cleanup(api.Close)
	tree := func() string {
		tr.Flush(t.Context())
		return otelsetuptest.Tree(exp.GetSpans())
	}
	return &rig{api: api, aws: srv}, tree
}

func get(t *testing.T, method, url string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body apigw.Response
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Message, resp.Header
}

func TestPublishesThePath(t *testing.T) {
	tests := []struct{ path, want string }{
		{"/", "/"},
		{"/hello", "/hello"},
		{"/a/b", "/a/b"},
		{"/with%20space", "/with space"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r, tree := start(t, 0, 0)
			status, msg, header := get(t, http.MethodGet, r.api.URL+tt.path)
			if status != http.StatusOK || msg != "message added to SNS topic" {
				t.Fatalf("GET %s = %d %q", tt.path, status, msg)
			}
			reqs := r.aws.Requests()
			if len(reqs) != 1 || reqs[0].Operation != "Publish" || reqs[0].Form.Get("Message") != tt.want || reqs[0].Form.Get("TopicArn") != topicARN {
				t.Fatalf("published %+v, want %q to the fan-out topic", reqs, tt.want)
			}
			// The trace starts at the edge and goes on with the publish.
			root := header.Get("X-Amzn-Trace-Id")
			sent := reqs[0].Header.Get("X-Amzn-Trace-Id")
			if !strings.HasPrefix(root, "Root=1-") || sent[:len("Root=1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx")] != root[:len("Root=1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx")] {
				t.Errorf("response trace %q, publish trace %q: want one trace", root, sent)
			}
			want := "xray-tracer-api/prod server\n  SNS.Publish client\n"
			if got := tree(); got != want {
				t.Errorf("spans:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestAnswersAsAPIGatewayDoes(t *testing.T) {
	tests := []struct {
		name, method, path string
		status             int
		msg                string
	}{
		{"other method", http.MethodPost, "/hello", 403, "Missing Authentication Token"},
		{"delete", http.MethodDelete, "/", 403, "Missing Authentication Token"},
		{"huge path", http.MethodGet, "/" + strings.Repeat("a", apigw.MaxURLLength), 414, "Request-URI Too Long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := start(t, 0, 0)
			status, msg, _ := get(t, tt.method, r.api.URL+tt.path)
			if status != tt.status || msg != tt.msg {
				t.Errorf("%s %.20s = %d %q, want %d %q", tt.method, tt.path, status, msg, tt.status, tt.msg)
			}
			if n := len(r.aws.Requests()); n != 0 {
				t.Errorf("published %d messages for a refused request", n)
			}
		})
	}
}

func TestBadEncodingIsRefused(t *testing.T) {
	r, _ := start(t, 0, 0)
	conn, err := net.Dial("tcp", strings.TrimPrefix(r.api.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /%%zz HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("GET /%%zz = %d, want 400", resp.StatusCode)
	}
	if n := len(r.aws.Requests()); n != 0 {
		t.Errorf("published %d messages for a malformed request", n)
	}
}

func TestFloodIsThrottled(t *testing.T) {
	r, _ := start(t, 0.001, 3)
	var codes []int
	for range 6 {
		status, _, _ := get(t, http.MethodGet, r.api.URL+"/x")
		codes = append(codes, status)
	}
	if fmt.Sprint(codes) != "[200 200 200 429 429 429]" {
		t.Errorf("statuses %v, want the burst of 3 served, then 429", codes)
	}
	if n := len(r.aws.Requests()); n != 3 {
		t.Errorf("published %d, want one per request served", n)
	}
}

func TestPublishFailureIsNotHidden(t *testing.T) {
	r, tree := start(t, 0, 0)
	r.aws.Fail("Publish", awstest.Error{Status: 404, Code: "NotFound", Message: "Topic does not exist"})
	status, msg, _ := get(t, http.MethodGet, r.api.URL+"/hello")
	if status != http.StatusInternalServerError || msg != "could not publish the path to SNS" {
		t.Errorf("GET /hello = %d %q, want 500", status, msg)
	}
	if want := "xray-tracer-api/prod server ERROR\n  SNS.Publish client ERROR\n"; tree() != want {
		t.Errorf("spans:\n%s\nwant:\n%s", tree(), want)
	}
}
