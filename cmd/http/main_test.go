package main

import (
	"context"
	"strings"
	"testing"
)

// TestRunChecksItsSettings: a missing target or a failure rate outside 0..1
// stops the function at start with an error that says which and why.
func TestRunChecksItsSettings(t *testing.T) {
	tests := []struct {
		target, rate, want string
	}{
		{"", "0.4", "TARGET_URL is not set: it must hold the URL of the external API to call"},
		{"https://example.com/", "2", `FAILURE_RATE="2": want a number from 0 to 1`},
		{"https://example.com/", "often", `FAILURE_RATE="often": want a number from 0 to 1`},
	}
	for _, tt := range tests {
		t.Setenv("TARGET_URL", tt.target)
		t.Setenv("FAILURE_RATE", tt.rate)
		if err := run(context.Background()); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("TARGET_URL=%q FAILURE_RATE=%q: run() = %v, want %q", tt.target, tt.rate, err, tt.want)
		}
	}
}
