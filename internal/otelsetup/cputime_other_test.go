//go:build !unix

package otelsetup_test

import (
	"testing"
	"time"
)

// cpuTime is not read here: BenchmarkInvocation's cpu-ns/op is 0.
func cpuTime(*testing.B) time.Duration { return 0 }
