// Command sns-subscribe is the pattern's "sns-subscribe" function: it
// processes the messages sns-publish sends to the second topic.
//
// Environment: the standard OTEL_* variables.
package main

import (
	"context"
	"log"

	"github.com/xray-tracer/xray-tracer/internal/functions/snssubscribe"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

func main() {
	tracing, err := otelsetup.Setup(context.Background())
	if err != nil {
		log.Fatalf("sns-subscribe: %v", err)
	}
	otelsetup.Start(tracing, snssubscribe.Handler{}.Handle)
}
