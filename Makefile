# The stable commands of xray-tracer. Each target is a thin wrapper; read the
# commands it runs to see what it does.
GO        ?= go
FUNCTIONS := dynamo http sqs sqs-subscribe sns-publish sns-subscribe
BIN       := bin

.PHONY: test run lint build clean xray-segments xrayview-assets package artifact bench tools fuzz load

# How every function is built for Lambda: linux/arm64, static, no RPC mode,
# stripped.
LAMBDA_BUILD = GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w'

## test: every test of every module (the README's test command): the Lambda
## module, then test/ (the fidelity tests build the collectors, the local
## stack's test builds Jaeger: minutes the first time)
test:
	$(GO) test -race -count=1 ./...
	$(GO) -C test test -count=1 -timeout 30m ./...

## fuzz: every fuzz target of the Lambda module for FUZZTIME each (go test
## -fuzz takes one target at a time); a crash is written to the package's
## testdata/fuzz and fails the run
FUZZTIME ?= 5s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "$$pkg $$target"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

## bench: what tracing costs a function, every variant side by side in one run
## (untraced, otelsetup over OTLP/HTTP, gRPC and xrayudp, the stock otellambda
## setup): init, warm invocations, size, memory, growth, collector faults, hot paths; rewrites
## BENCHMARKS.md. BENCH_FLAGS=-short runs a few iterations of each.
bench:
	$(GO) -C bench run ./cmd/lambdabench $(BENCH_FLAGS)

## run: the whole pattern on this machine (emulators, Jaeger, every function
## behind a Lambda stand-in, the API on localhost:3000) until Ctrl-C
run:
	$(GO) run ./cmd/local

## load: the local stack under bounded load, on free loopback ports:
## LOAD_REQUESTS requests, LOAD_IN_FLIGHT at a time, the API's throttle
## raised; checks that every accepted request has a complete trace in
## Jaeger, that the hits add up, that the queues end empty but for the
## poison records, and that the runner's goroutines and files do not grow;
## prints p50/p99 latency and invocations per second, and rewrites the load
## section of LOAD_REPORT
LOAD_REQUESTS ?= 10000
LOAD_IN_FLIGHT ?= 50
LOAD_REPORT ?= BENCHMARKS.md
load:
	$(GO) run ./cmd/local -load $(LOAD_REQUESTS) -in-flight $(LOAD_IN_FLIGHT) -report $(LOAD_REPORT) $(LOAD_FLAGS)

## lint: gofmt, go vet and staticcheck (pinned in tools/staticcheck)
lint: $(BIN)/staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(BIN)/staticcheck ./...
	cd test && $(GO) vet ./... && ../$(BIN)/staticcheck ./...
	cd test/collector && $(GO) vet ./... && cd newest && $(GO) vet ./...
	cd tools/goaws && $(GO) vet ./... && ../../$(BIN)/staticcheck ./...
	cd bench && $(GO) vet ./... && ../$(BIN)/staticcheck ./...

$(BIN)/staticcheck: tools/staticcheck/go.mod tools/staticcheck/go.sum
	$(GO) -C tools/staticcheck build -o $(CURDIR)/$(BIN)/staticcheck honnef.co/go/tools/cmd/staticcheck

## build: every function as Lambda runs it: bin/<function>/bootstrap, linux/arm64
build: $(FUNCTIONS:%=$(BIN)/%/bootstrap)

$(BIN)/%/bootstrap: FORCE
	$(LAMBDA_BUILD) -o $@ ./cmd/$*

## package: every function's artifact as `sam build` makes it, without SAM:
## .aws-sam/build/<LogicalId>/ holding bootstrap and the collector configs
## (collector.yaml, collector-xray-otlp.yaml)
PACKAGE_DIR ?= .aws-sam/build
SAM_FUNCTIONS := DynamoFunction HttpFunction SqsFunction SqsSubscribeFunction SnsPublishFunction SnsSubscribeFunction
package:
	@for id in $(SAM_FUNCTIONS); do \
		$(MAKE) --no-print-directory build-$$id ARTIFACTS_DIR=$(abspath $(PACKAGE_DIR))/$$id || exit 1; \
	done
	@ls -l $(PACKAGE_DIR)/*/bootstrap

# SAM's makefile build method (deploy/sam/template.yaml) runs build-<LogicalId>
# here with ARTIFACTS_DIR set.
build-DynamoFunction:       ; @$(MAKE) --no-print-directory artifact FUNCTION=dynamo
build-HttpFunction:         ; @$(MAKE) --no-print-directory artifact FUNCTION=http
build-SqsFunction:          ; @$(MAKE) --no-print-directory artifact FUNCTION=sqs
build-SqsSubscribeFunction: ; @$(MAKE) --no-print-directory artifact FUNCTION=sqs-subscribe
build-SnsPublishFunction:   ; @$(MAKE) --no-print-directory artifact FUNCTION=sns-publish
build-SnsSubscribeFunction: ; @$(MAKE) --no-print-directory artifact FUNCTION=sns-subscribe

artifact:
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set (sam build sets it)"; exit 1; }
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./cmd/$(FUNCTION)
	cp collector.yaml collector-xray-otlp.yaml $(ARTIFACTS_DIR)/

## xray-segments: the pattern through the fidelity harness for a few requests;
## every segment document X-Ray would receive to $(XRAY_SEGMENTS_OUT)/segments.jsonl,
## the X-Ray view of them (trace map, traces, timelines) as one self-contained
## segments.html beside it, and the service map printed as text and Mermaid
XRAY_SEGMENTS_OUT ?= out/segments
xray-segments:
	XRAY_SEGMENTS_OUT=$(abspath $(XRAY_SEGMENTS_OUT)) $(GO) -C test run ./cmd/xray-segments

## xrayview-assets: the X-Ray view's graph layout library (@dagrejs/dagre)
## from its lockfile into internal/local/xrayview/web/assets/vendor/, which is
## committed and embedded, so go build never needs npm; CI runs this and checks
## that the committed copy is what the lockfile gives
XRAYVIEW_WEB := internal/local/xrayview/web
xrayview-assets:
	cd $(XRAYVIEW_WEB) && npm ci --no-audit --no-fund && node vendor.mjs

## tools: the local stack's tools: goaws and Jaeger, each pinned in its own
## Go module under tools/, the collector nearest the ADOT layer
## (test/collector/newest, the fidelity tests' own, built with the same flags
## so that they share Go's build cache), and dynalite from its npm lockfile
## (make run builds and installs them when missing; Jaeger's first build takes
## 6-15 minutes on two cores)
tools: $(BIN)/goaws $(BIN)/jaeger $(BIN)/otelcol-xray tools/dynalite/node_modules/.package-lock.json

tools/dynalite/node_modules/.package-lock.json: tools/dynalite/package-lock.json
	cd tools/dynalite && npm ci --no-audit --no-fund

$(BIN)/goaws: tools/goaws/go.mod tools/goaws/go.sum tools/goaws/main.go
	$(GO) -C tools/goaws build -o $(CURDIR)/$@ .

$(BIN)/otelcol-xray: test/collector/newest/go.mod test/collector/newest/go.sum test/collector/newest/main.go test/collector/compose/compose.go
	cd test/collector/newest && CGO_ENABLED=0 $(GO) build -o $(CURDIR)/$@ .

$(BIN)/jaeger: tools/jaeger/go.mod tools/jaeger/go.sum
	$(GO) -C tools/jaeger build -o $(CURDIR)/$@ github.com/jaegertracing/jaeger/cmd/jaeger

clean:
	rm -rf $(BIN) out .aws-sam

.PHONY: FORCE
FORCE:
