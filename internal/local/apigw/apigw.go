// Package apigw stands in for the pattern's API Gateway REST API on a laptop:
// GET / and GET /{proxy+} publish the request's path to the fan-out topic, as
// the API's direct SNS integration does (deploy/sam/template.yaml), and every
// other request gets the answer API Gateway would give it. With tracing on,
// API Gateway starts the trace at the edge; so does this handler, with a
// SERVER span that the SNS call (and so every function) continues.
package apigw

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

// Answers, as API Gateway gives them. The status codes and messages of the
// gateway responses are those of
// https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html
// (MISSING_AUTHENTICATION_TOKEN, THROTTLED); the others are the template's
// integration responses.
const (
	publishedMessage = "message added to SNS topic"
	failedMessage    = "could not publish the path to SNS"
	missingToken     = "Missing Authentication Token"
	throttled        = "Too Many Requests"
	uriTooLong       = "Request-URI Too Long"
)

// MaxURLLength is the longest URL accepted: API Gateway's quota for the URL
// of an edge-optimized API is 8192 characters.
const MaxURLLength = 8192

// Publisher is the part of the SNS client the stand-in uses.
type Publisher interface {
	Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// Handler is the stand-in. Serve it on localhost:3000, the port
// `sam local start-api` uses.
type Handler struct {
	SNS      Publisher
	TopicARN string
	// Name is the stage's name on traces, as X-Ray names the API's
	// segment: "<api>/<stage>".
	Name string
	// Tracer starts the edge span; the SNS client must be instrumented with
	// the same provider (otelsetup's AWSConfig) to carry the trace on.
	Tracer trace.Tracer
	// Rate and Burst throttle requests as a usage plan does (token bucket);
	// zero Rate means no throttling.
	Rate  float64
	Burst int

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// Response is the JSON body of every answer.
type Response struct {
	Message string `json:"message"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case len(r.RequestURI) > MaxURLLength:
		answer(w, http.StatusRequestURITooLong, uriTooLong)
		return
	case r.Method != http.MethodGet:
		// Only GET is defined on / and /{proxy+}; API Gateway answers any
		// other method as an unknown route.
		answer(w, http.StatusForbidden, missingToken)
		return
	case !h.allow(time.Now()):
		answer(w, http.StatusTooManyRequests, throttled)
		return
	}

	ctx, span := h.Tracer.Start(r.Context(), h.Name,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			semconv.HTTPRequestMethodKey.String(r.Method),
			semconv.URLPath(r.URL.Path),
			semconv.HTTPRoute(route(r.URL.Path)),
		))
	defer span.End()
	// API Gateway returns the trace header of the request it traced.
	otelsetup.XRayPropagator{}.Inject(ctx, propagation.HeaderCarrier(w.Header()))

	status, message := http.StatusOK, publishedMessage
	if err := h.publish(ctx, r.URL.Path); err != nil {
		status, message = http.StatusInternalServerError, failedMessage
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.SetAttributes(semconv.HTTPResponseStatusCode(status))
	answer(w, status, message)
}

// publish sends the path as the message, as the integration's request
// template does ($input.params('proxy') after a /).
func (h *Handler) publish(ctx context.Context, path string) error {
	if path == "" {
		path = "/"
	}
	_, err := h.SNS.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(h.TopicARN), Message: aws.String(path)})
	if err != nil {
		return fmt.Errorf("publish %q to %s: %w", path, h.TopicARN, err)
	}
	return nil
}

// allow takes a token from the bucket, refilled at Rate per second up to
// Burst.
func (h *Handler) allow(now time.Time) bool {
	if h.Rate <= 0 {
		return true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.last.IsZero() {
		h.tokens = float64(h.Burst)
	} else {
		h.tokens = min(float64(h.Burst), h.tokens+now.Sub(h.last).Seconds()*h.Rate)
	}
	h.last = now
	if h.tokens < 1 {
		return false
	}
	h.tokens--
	return true
}

func route(path string) string {
	if path == "/" || path == "" {
		return "/"
	}
	return "/{proxy+}"
}

func answer(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Response{Message: message})
}
