package resilience_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/internal/functions/resilience"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest"
)

// script is a network that answers each attempt with the next of its replies:
// a status code, or 0 for a connection error.
type script struct {
	mu      sync.Mutex
	replies []int
	header  http.Header
	times   []time.Time
}

var errConnRefused = errors.New("connection refused")

func (s *script) RoundTrip(req *http.Request) (*http.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.times = append(s.times, time.Now())
	if len(s.replies) == 0 {
		return nil, errors.New("script: no reply left")
	}
	code := s.replies[0]
	s.replies = s.replies[1:]
	if code == 0 {
		return nil, errConnRefused
	}
	return &http.Response{
		StatusCode: code,
		Status:     http.StatusText(code),
		Header:     s.header.Clone(),
		Body:       io.NopCloser(strings.NewReader("body")),
		Request:    req,
	}, nil
}

func (s *script) attempts() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.times...)
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name         string
		method       string
		replies      []int
		retryAfter   string
		wantStatus   int // 0: want an error
		wantAttempts int
		wantWaits    []time.Duration // each with ±50% jitter, unless exact
		exact        bool
	}{
		{"success first time", http.MethodGet, []int{200}, "", 200, 1, nil, false},
		{"retries 503 then succeeds", http.MethodGet, []int{503, 503, 200}, "", 200, 3, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}, false},
		{"gives the last 500 after three attempts", http.MethodGet, []int{500, 500, 500}, "", 500, 3, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}, false},
		{"retries connection errors", http.MethodGet, []int{0, 200}, "", 200, 2, []time.Duration{100 * time.Millisecond}, false},
		{"fails after three connection errors", http.MethodGet, []int{0, 0, 0}, "", 0, 3, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}, false},
		{"does not retry 404", http.MethodGet, []int{404}, "", 404, 1, nil, false},
		{"does not retry POST", http.MethodPost, []int{503}, "", 503, 1, nil, false},
		{"429 waits Retry-After", http.MethodGet, []int{429, 200}, "2", 200, 2, []time.Duration{2 * time.Second}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tr, exp := otelsetuptest.New(t)
				net := &script{replies: tt.replies, header: http.Header{}}
				if tt.retryAfter != "" {
					net.header.Set("Retry-After", tt.retryAfter)
				}
				client := resilience.NewHTTPClient(tr.HTTPTransport, resilience.WithBaseTransport(net), resilience.WithBreaker(10, time.Minute))

				ctx, parent := tr.TracerProvider().Tracer("test").Start(context.Background(), "external HTTP Request")
				req, _ := http.NewRequestWithContext(ctx, tt.method, "http://api.example.test/status", nil)
				resp, err := client.Do(req)

				switch {
				case tt.wantStatus == 0 && err == nil:
					t.Fatalf("status %d, want an error", resp.StatusCode)
				case tt.wantStatus != 0 && err != nil:
					t.Fatalf("error %v, want status %d", err, tt.wantStatus)
				case tt.wantStatus != 0:
					body, _ := io.ReadAll(resp.Body)
					_ = resp.Body.Close()
					if resp.StatusCode != tt.wantStatus || string(body) != "body" {
						t.Errorf("got %d %q, want %d with its body", resp.StatusCode, body, tt.wantStatus)
					}
				}
				// The last attempt's span ends when its body is closed.
				parent.End()
				tr.Flush(context.Background())

				times := net.attempts()
				if len(times) != tt.wantAttempts {
					t.Fatalf("%d attempts, want %d", len(times), tt.wantAttempts)
				}
				for i, want := range tt.wantWaits {
					got := times[i+1].Sub(times[i])
					lo, hi := want/2, want*3/2
					if tt.exact {
						lo, hi = want, want
					}
					if got < lo || got > hi {
						t.Errorf("wait %d = %v, want %v..%v", i+1, got, lo, hi)
					}
				}

				// One CLIENT span per attempt, each a child of the caller's span.
				attempts := otelsetuptest.Named(exp.GetSpans(), tt.method+" api.example.test")
				if len(attempts) != tt.wantAttempts {
					t.Fatalf("%d attempt spans, want %d:\n%s", len(attempts), tt.wantAttempts, otelsetuptest.Tree(exp.GetSpans()))
				}
				for _, s := range attempts {
					if s.SpanKind != trace.SpanKindClient || s.Parent.SpanID() != parent.SpanContext().SpanID() {
						t.Errorf("attempt span kind %v parent %v, want a client child of the caller", s.SpanKind, s.Parent.SpanID())
					}
					if state, _ := otelsetuptest.Attr(s, string(resilience.BreakerStateKey)); state.AsString() != "closed" {
						t.Errorf("breaker state = %q, want closed", state.AsString())
					}
					if peer, _ := otelsetuptest.Attr(s, "peer.service"); peer.AsString() != "api.example.test" {
						t.Errorf("peer.service = %q, want the host, which names the X-Ray node", peer.AsString())
					}
				}
			})
		})
	}
}

func TestBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr, exp := otelsetuptest.New(t)
		net := &script{replies: []int{500, 500, 200, 200}}
		client := resilience.NewHTTPClient(tr.HTTPTransport,
			resilience.WithBaseTransport(net),
			resilience.WithRetries(1, time.Millisecond, time.Millisecond),
			resilience.WithBreaker(2, 30*time.Second),
		)
		get := func() (int, error) {
			req, _ := http.NewRequest(http.MethodGet, "http://api.example.test/", nil)
			resp, err := client.Do(req)
			if err != nil {
				return 0, err
			}
			_ = resp.Body.Close()
			return resp.StatusCode, nil
		}

		// Two failures in a row open the breaker.
		for range 2 {
			if code, err := get(); code != 500 || err != nil {
				t.Fatalf("got %d, %v; want 500", code, err)
			}
		}
		// Open: the call fails at once, without reaching the network.
		if _, err := get(); !errors.Is(err, gobreaker.ErrOpenState) {
			t.Fatalf("error = %v, want the breaker's open state", err)
		}
		if n := len(net.attempts()); n != 2 {
			t.Errorf("%d network attempts, want 2: an open breaker must not call the target", n)
		}
		// After its open time the breaker lets one attempt through (half-open)
		// and closes when it succeeds.
		time.Sleep(31 * time.Second)
		if code, err := get(); code != 200 || err != nil {
			t.Fatalf("half-open attempt got %d, %v; want 200", code, err)
		}
		if code, err := get(); code != 200 || err != nil {
			t.Fatalf("closed again: got %d, %v; want 200", code, err)
		}

		tr.Flush(context.Background())
		spans := otelsetuptest.Named(exp.GetSpans(), "GET api.example.test")
		var states []string
		for _, s := range spans {
			v, _ := otelsetuptest.Attr(s, string(resilience.BreakerStateKey))
			states = append(states, v.AsString())
		}
		want := []string{"closed", "closed", "open", "half-open", "closed"}
		if strings.Join(states, ",") != strings.Join(want, ",") {
			t.Errorf("breaker states on the attempt spans = %v, want %v", states, want)
		}
		if len(spans) == 5 && spans[2].Status.Code != codes.Error {
			t.Errorf("the refused attempt's span is not an error")
		}
	})
}
