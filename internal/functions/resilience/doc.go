// Package resilience is the HTTP client of the pattern's "http" function:
// timeouts, retries with exponential backoff and jitter, and a circuit
// breaker around a traced transport, so that X-Ray shows every attempt as a
// remote subsegment of its own, with the breaker's state on it.
//
// It lives outside internal/otelsetup because it is not tracing: a function
// that copies otelsetup keeps its own resilience (this package, another
// library, or none) and hands otelsetup's Tracing.HTTPTransport to it. The
// order of the layers is what makes the trace true, so [NewHTTPClient] builds
// them in one place:
//
//	retries → tracing (a span per attempt) → breaker (its state on the span) → network
package resilience
