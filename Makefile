# The stable commands of xray-tracer. Each target is a thin wrapper; read the
# commands it runs to see what it does.
GO        ?= go
FUNCTIONS := dynamo http sqs sqs-subscribe sns-publish sns-subscribe
BIN       := bin

.PHONY: test run lint build clean xray-segments

## test: every test of every module (the README's test command): the Lambda
## module, then test/ (the fidelity tests build the collectors: minutes the
## first time)
test:
	$(GO) test -race -count=1 ./...
	$(GO) -C test test -count=1 ./...

## run: the pattern on this machine (for now: the http function, spans on the console)
run:
	$(GO) run ./cmd/local

## lint: gofmt, go vet and staticcheck (pinned in tools/staticcheck)
lint: $(BIN)/staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(BIN)/staticcheck ./...
	cd test && $(GO) vet ./... && ../$(BIN)/staticcheck ./...
	cd test/collector && $(GO) vet ./... && cd newest && $(GO) vet ./...

$(BIN)/staticcheck: tools/staticcheck/go.mod tools/staticcheck/go.sum
	$(GO) -C tools/staticcheck build -o $(CURDIR)/$(BIN)/staticcheck honnef.co/go/tools/cmd/staticcheck

## build: every function as Lambda runs it: bin/<function>/bootstrap, linux/arm64
build: $(FUNCTIONS:%=$(BIN)/%/bootstrap)

$(BIN)/%/bootstrap: FORCE
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' -o $@ ./cmd/$*

## xray-segments: the pattern through the fidelity harness for a few requests;
## every segment document X-Ray would receive to $(XRAY_SEGMENTS_OUT)/segments.jsonl,
## and the service map printed as text and Mermaid
XRAY_SEGMENTS_OUT ?= out/segments
xray-segments:
	XRAY_SEGMENTS_OUT=$(abspath $(XRAY_SEGMENTS_OUT)) $(GO) -C test run ./cmd/xray-segments

clean:
	rm -rf $(BIN) out

.PHONY: FORCE
FORCE:
