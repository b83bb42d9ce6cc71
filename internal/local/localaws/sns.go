package localaws

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/internal/local/lambdaevents"
	"github.com/xray-tracer/xray-tracer/internal/local/sandbox"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

// Subscription is a function subscribed to a topic.
type Subscription struct {
	TopicARN string
	Function string
}

// SNSEndpoint is the HTTP endpoint the SNS emulator delivers to, standing in
// for SNS's Lambda subscriptions: each notification becomes the SNS event
// Lambda gives the subscribed function, invoked asynchronously in the trace
// of the topic's span (TraceHeaderAttribute).
//
// Lambda invokes an SNS subscriber asynchronously and, when the function
// returns an error, tries twice more: one minute after the first attempt,
// then two minutes later
// (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html).
// RetryDelays sets those waits, shorter on a laptop.
type SNSEndpoint struct {
	Lambda      *Lambda
	RetryDelays []time.Duration
	Log         *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	subs   map[string]subscription // by path
	wg     sync.WaitGroup
}

type subscription struct {
	Subscription
	arn string
}

// NewSNSEndpoint serves the subscriptions at the paths Path gives.
func NewSNSEndpoint(l *Lambda, subs []Subscription, log *slog.Logger) *SNSEndpoint {
	ctx, cancel := context.WithCancel(context.Background())
	e := &SNSEndpoint{
		Lambda:      l,
		RetryDelays: []time.Duration{time.Second, 2 * time.Second},
		Log:         log,
		ctx:         ctx,
		cancel:      cancel,
		subs:        map[string]subscription{},
	}
	for _, s := range subs {
		// A subscription's ARN is its topic's ARN and a UUID.
		e.subs[Path(s)] = subscription{s, s.TopicARN + ":" + sandbox.NewRequestID()}
	}
	return e
}

// Path is where the endpoint takes the notifications of s.
func Path(s Subscription) string {
	return "/sns/" + s.TopicARN[strings.LastIndex(s.TopicARN, ":")+1:] + "/" + s.Function
}

// maxNotificationBytes bounds a notification body: SNS messages are at most
// 256 KiB, and the notification's JSON adds its fields around the message.
const maxNotificationBytes = 512 << 10

func (e *SNSEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sub, ok := e.subs[r.URL.Path]
	if !ok || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxNotificationBytes))
	if err != nil {
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	n, err := lambdaevents.ParseNotification(body)
	if err != nil {
		e.Log.Warn("sns: dropped a delivery", "function", sub.Function, "error", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if n.Type != lambdaevents.TypeNotification {
		// Subscriptions come confirmed from the emulator's config file.
		w.WriteHeader(http.StatusOK)
		return
	}
	var parent trace.SpanContext
	if a, ok := n.MessageAttributes[TraceHeaderAttribute]; ok {
		delete(n.MessageAttributes, TraceHeaderAttribute)
		header := a.Value
		if header == "" {
			header = a.StringValue
		}
		if link, ok := otelsetup.LinkFromTraceHeader(header); ok {
			parent = link.SpanContext
		} else {
			e.Log.Warn("sns: notification without a usable trace header", "function", sub.Function, "header", header)
		}
	}
	payload, err := json.Marshal(lambdaevents.SNSEvent(n, sub.arn))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	// The emulator delivers synchronously and waits for this answer: answer
	// at once and invoke in the background, as Lambda's async invocation
	// queues the event.
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.invoke(sub.Function, payload, parent)
	}()
	w.WriteHeader(http.StatusOK)
}

// invoke runs the function, and again after each delay while it fails.
func (e *SNSEndpoint) invoke(fn string, payload []byte, parent trace.SpanContext) {
	for attempt := 0; ; attempt++ {
		inv := e.Lambda.Invoke(e.ctx, fn, "pubsub", payload, parent, nil)
		if !inv.Failed() || attempt >= len(e.RetryDelays) || e.ctx.Err() != nil {
			return
		}
		select {
		case <-time.After(e.RetryDelays[attempt]):
		case <-e.ctx.Done():
			return
		}
	}
}

// Close waits for the invocations under way, or until ctx ends; then it
// cancels the rest (and their retries).
func (e *SNSEndpoint) Close(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		e.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		e.cancel()
		return nil
	case <-ctx.Done():
		e.cancel()
		<-done
		return fmt.Errorf("sns: stopped invocations under way: %w", ctx.Err())
	}
}
