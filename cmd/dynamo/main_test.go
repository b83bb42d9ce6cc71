package main

import (
	"context"
	"strings"
	"testing"
)

// TestRunNeedsItsResource: without TABLE_NAME the function stops at start with
// an error that names the variable and what it is for.
func TestRunNeedsItsResource(t *testing.T) {
	t.Setenv("TABLE_NAME", "")
	err := run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "TABLE_NAME is not set: it must hold the name of the DynamoDB table of hits") {
		t.Fatalf("run() = %v, want the missing TABLE_NAME named", err)
	}
}
