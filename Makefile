# The stable commands of xray-tracer. Each target is a thin wrapper; read the
# commands it runs to see what it does.
GO        ?= go
FUNCTIONS := dynamo http sqs sqs-subscribe sns-publish sns-subscribe
BIN       := bin

.PHONY: test run lint build clean

## test: every test of every module (the README's test command)
test:
	$(GO) test -race -count=1 ./...

## run: the pattern on this machine (for now: the http function, spans on the console)
run:
	$(GO) run ./cmd/local

## lint: gofmt, go vet and staticcheck (pinned in tools/staticcheck)
lint: $(BIN)/staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(BIN)/staticcheck ./...

$(BIN)/staticcheck: tools/staticcheck/go.mod tools/staticcheck/go.sum
	$(GO) -C tools/staticcheck build -o $(CURDIR)/$(BIN)/staticcheck honnef.co/go/tools/cmd/staticcheck

## build: every function as Lambda runs it: bin/<function>/bootstrap, linux/arm64
build: $(FUNCTIONS:%=$(BIN)/%/bootstrap)

$(BIN)/%/bootstrap: FORCE
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' -o $@ ./cmd/$*

clean:
	rm -rf $(BIN)

.PHONY: FORCE
FORCE:
