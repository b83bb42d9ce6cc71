package main

import (
	"context"
	"strings"
	"testing"
)

// TestRunNeedsItsResource: without QUEUE_URL the function stops at start with
// an error that names the variable and what it is for.
func TestRunNeedsItsResource(t *testing.T) {
	t.Setenv("QUEUE_URL", "")
	err := run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "QUEUE_URL is not set: it must hold the URL of the SQS queue to send to") {
		t.Fatalf("run() = %v, want the missing QUEUE_URL named", err)
	}
}
