// Command sqs-subscribe is the pattern's "sqs-subscribe" function: it
// consumes the queue the sqs function sends to, one span per record linked to
// its sender's trace, and reports the records that fail as batch item
// failures (the event source mapping must enable ReportBatchItemFailures).
//
// Environment: the standard OTEL_* variables.
package main

import (
	"context"
	"log"

	"github.com/xray-tracer/xray-tracer/internal/functions/sqssubscribe"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

func main() {
	tracing, err := otelsetup.Setup(context.Background())
	if err != nil {
		log.Fatalf("sqs-subscribe: %v", err)
	}
	otelsetup.Start(tracing, sqssubscribe.Handler{}.Handle)
}
