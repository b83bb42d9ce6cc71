//go:build unix

package otelsetup_test

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time the process has used, the collector's and the
// agent's included: on a shared machine it says more of what a change saves
// than the wall-clock time, which the other processes' load moves.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
