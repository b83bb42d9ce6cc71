// Package harness runs the pattern's real Lambda binaries on this machine the
// way AWS runs them, and captures what X-Ray would receive: each function's
// bootstrap behind internal/local/sandbox's Lambda Runtime API, calling the real
// DynamoDB, SNS and SQS emulators (internal/local/emulators), a stand-in for
// X-Ray's PutTraceSegments API that keeps every segment document, and the
// OpenTelemetry Collector with the awsxray exporter (the ADOT layer's) in
// between, running the repository's collector.yaml.
package harness
