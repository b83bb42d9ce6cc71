//go:build !linux

package procs

import "syscall"

// sysProcAttr puts the child in a process group of its own. Outside Linux
// there is no parent-death signal: a runner killed by SIGKILL leaves its
// children, as any process would.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
