package main

import (
	"context"
	"testing"
)

// TestRunInvokesTheFunction runs the local runner as make run does, with the
// spans dropped: failures on purpose are part of the show, anything else
// (here, a path that is not one) makes it fail.
func TestRunInvokesTheFunction(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	tests := []struct {
		rate, path string
		wantErr    bool
	}{
		{"0", "/hello", false},
		{"1", "/hello", false},
		{"0", "not-a-path", true},
	}
	for _, tt := range tests {
		t.Setenv("FAILURE_RATE", tt.rate)
		if err := run(context.Background(), 3, tt.path); (err != nil) != tt.wantErr {
			t.Errorf("FAILURE_RATE=%s path %q: run() = %v, want error %v", tt.rate, tt.path, err, tt.wantErr)
		}
	}
}
