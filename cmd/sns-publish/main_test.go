package main

import (
	"context"
	"strings"
	"testing"
)

// TestRunNeedsItsResource: without TOPIC_ARN the function stops at start with
// an error that names the variable and what it is for.
func TestRunNeedsItsResource(t *testing.T) {
	t.Setenv("TOPIC_ARN", "")
	err := run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "TOPIC_ARN is not set: it must hold the ARN of the SNS topic to publish to") {
		t.Fatalf("run() = %v, want the missing TOPIC_ARN named", err)
	}
}
