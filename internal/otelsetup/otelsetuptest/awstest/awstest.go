// Package awstest is a stand-in for the AWS APIs that the pattern's functions
// call (DynamoDB UpdateItem, SQS SendMessage, SNS Publish), for tests:
// an httptest server that answers in each service's wire protocol and keeps
// every request it got. The unit tests use it; the fidelity harness and the
// local stack run the functions against the real emulators
// (internal/emulators).
//
// The protocols, as the AWS API references document them and the AWS SDK for
// Go v2 speaks them:
//   - DynamoDB: JSON 1.0, operation in X-Amz-Target "DynamoDB_20120810.<Op>";
//     errors as {"__type": "...#<Code>", "message": "..."}.
//   - SQS: JSON 1.0, X-Amz-Target "AmazonSQS.<Op>"; SendMessage answers
//     MessageId and MD5OfMessageBody, the hex MD5 of the body, which the SDK
//     checks.
//   - SNS: the query protocol, a form with Action=<Op>, answered in XML
//     (<PublishResponse><PublishResult><MessageId>…); errors as
//     <ErrorResponse><Error><Type/><Code/><Message/></Error>.
//
// Every answer carries a request ID in x-amzn-RequestId, which the SDK reads.
package awstest

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Region is the region the stand-in's clients use.
const Region = "eu-west-1"

// A Request is one call the server received.
type Request struct {
	Operation string // UpdateItem, SendMessage, Publish, ...
	Header    http.Header
	JSON      map[string]any // JSON protocols
	Form      url.Values     // the query protocol
}

// An Error is what the server answers instead of success.
type Error struct {
	Status  int    // HTTP status, 400 for a client error
	Code    string // the AWS error code, e.g. ResourceNotFoundException
	Message string
}

// Server is the stand-in. Its zero value is not usable; use [New] or [Start].
type Server struct {
	URL string
	srv *httptest.Server

	mu       sync.Mutex
	requests []Request
	failures map[string]Error
	hits     map[string]int
	seq      int
}

// New starts a server that lives until the test ends.
func New(t testing.TB) *Server {
	s := Start()
	t.Cleanup(s.Close)
	return s
}

// Start starts a server on a loopback port; [Server.Close] stops it.
func Start() *Server {
	s := &Server{failures: map[string]Error{}, hits: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// LoadOptions point an AWS config at the server, with static credentials.
func (s *Server) LoadOptions() []func(*config.LoadOptions) error {
	return []func(*config.LoadOptions) error{
		config.WithRegion(Region),
		config.WithBaseEndpoint(s.URL),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")),
		config.WithSharedConfigFiles(nil),
		config.WithSharedCredentialsFiles(nil),
	}
}

// Fail makes every later call of operation fail with e.
func (s *Server) Fail(operation string, e Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[operation] = e
}

// Requests returns the calls received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// RequestID is the ID the server gives its n-th answer (from 1).
func RequestID(n int) string { return fmt.Sprintf("req-%04d", n) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req := Request{Header: r.Header.Clone()}
	jsonProtocol := false
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		jsonProtocol = true
		_, req.Operation, _ = strings.Cut(target, ".")
		if err := json.Unmarshal(body, &req.JSON); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	} else {
		req.Form, err = url.ParseQuery(string(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req.Operation = req.Form.Get("Action")
	}

	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.seq++
	w.Header().Set("x-amzn-RequestId", RequestID(s.seq))
	failure, failing := s.failures[req.Operation]
	var answer any
	if !failing {
		answer, failure, failing = s.answer(req)
	}
	s.mu.Unlock()

	switch {
	case failing && jsonProtocol:
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(failure.Status)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws#" + failure.Code, "message": failure.Message})
	case failing:
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(failure.Status)
		fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`,
			failure.Code, failure.Message, w.Header().Get("x-amzn-RequestId"))
	case jsonProtocol:
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_ = json.NewEncoder(w).Encode(answer)
	default:
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprint(w, answer)
	}
}

// answer computes the success answer of req; s.mu is held.
func (s *Server) answer(req Request) (any, Error, bool) {
	switch req.Operation {
	case "UpdateItem":
		// ADD hits :one on the item keyed by path, returning UPDATED_NEW.
		key, _ := req.JSON["Key"].(map[string]any)
		path, _ := key["path"].(map[string]any)
		p, _ := path["S"].(string)
		s.hits[p]++
		return map[string]any{"Attributes": map[string]any{"hits": map[string]string{"N": strconv.Itoa(s.hits[p])}}}, Error{}, false
	case "SendMessage":
		body, _ := req.JSON["MessageBody"].(string)
		sum := md5.Sum([]byte(body))
		return map[string]string{
			"MessageId":        fmt.Sprintf("msg-%04d", s.seq),
			"MD5OfMessageBody": hex.EncodeToString(sum[:]),
		}, Error{}, false
	case "Publish":
		return fmt.Sprintf(`<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>msg-%04d</MessageId></PublishResult><ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></PublishResponse>`,
			s.seq, RequestID(s.seq)), Error{}, false
	}
	return nil, Error{Status: 400, Code: "InvalidAction", Message: "the stand-in does not serve " + req.Operation}, true
}

// Config loads an AWS config pointed at the server through load, which is
// normally otelsetup's Tracing.AWSConfig.
func (s *Server) Config(t testing.TB, load func(context.Context, ...func(*config.LoadOptions) error) (aws.Config, error)) aws.Config {
	t.Helper()
	cfg, err := load(context.Background(), s.LoadOptions()...)
	if err != nil {
		t.Fatalf("load AWS config for the stand-in: %v", err)
	}
	return cfg
}
