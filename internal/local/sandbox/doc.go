// Package sandbox stands in for the Lambda service where no AWS account is
// at hand: it runs a function's real bootstrap as a child process and feeds
// it invocations through the Lambda Runtime API, so that what is tested or
// run locally is the very binary Lambda runs, entered the same way. The
// fidelity tests, the local runner (cmd/local) and the benchmarks all use it.
package sandbox
