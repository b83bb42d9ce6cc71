// Command local runs the whole pattern on this machine, with no AWS account:
// `make run`.
//
// It builds what it needs, then starts and supervises:
//   - DynamoDB (dynalite, from tools/dynalite's lockfile) and SNS and SQS
//     (goaws, from tools/goaws), reached by the functions through the AWS
//     SDK's endpoint variables;
//   - the OpenTelemetry Collector nearest the ADOT Lambda layer
//     (test/collector/newest) running collector.yaml, which the functions'
//     OTLP exporter sends to, as in Lambda; its awsxray exporter sends the
//     segment documents to a PutTraceSegments stand-in (internal/local/xrayapi)
//     that feeds the X-Ray view (internal/local/xrayview) on -xray, and an
//     overlay adds an exporter to Jaeger;
//   - Jaeger (tools/jaeger, or $JAEGER_BIN, or a jaeger on PATH; or none,
//     with -jaeger-url naming one already running);
//   - each function's real bootstrap behind the Lambda Runtime API
//     (internal/local/sandbox), invoked as Lambda would from the SNS
//     subscriptions and the SQS event source mapping (internal/local/localaws);
//   - an API Gateway stand-in on localhost:3000 (internal/local/apigw).
//
// It prints a line per request with its trace id; type a trace id (or just
// Enter for the latest) to see that trace as Jaeger holds it. Ctrl-C stops
// everything.
//
//	go run ./cmd/local                       # serve until Ctrl-C
//	go run ./cmd/local -requests 20 -exit    # 20 requests, a summary, exit status
//	go run ./cmd/local -load 10000           # make load: bounded load, checked and measured
//
// -load runs on free loopback ports (unless the address flags are given),
// with the API's throttle raised; it sends its requests -in-flight at a
// time with -poison poison records on the queue, waits for their work to
// settle, checks what -exit checks plus the queues and the runner's
// goroutines and open files, prints latency and rates, and rewrites the load
// section of -report (internal/local/benchmd).
//
// OTEL_TRACES_EXPORTER=console starts no Jaeger, collector or X-Ray view
// (the spans never leave the functions as OTLP, so there is nothing to
// translate): each function prints its
// spans as OpenTelemetry's stdout exporter does (JSON, a line per span), and
// the runner draws each function's part of every trace as a waterfall in the
// terminal (internal/local/waterfall); none drops them.
//
// The source, a job a file: main.go the command line and the run from start
// to stop; build.go the programs the stack runs; stack.go the processes and
// servers, started in dependency order and stopped in reverse; jaeger.go,
// goaws.go and table.go Jaeger, goaws's config and the DynamoDB table;
// awsspans.go the spans of the AWS services the runner stands in for,
// segments.go the segments AWS records, made of them; collector.go the
// collector, the X-Ray stand-in and the page; env.go the environment and AWS
// config of the functions and the runner;
// logs.go what goes to the terminal and the log files; prompt.go the
// addresses and the trace prompt; summary.go -requests and the summary;
// checks.go what -exit checks; load.go -load.
package main
