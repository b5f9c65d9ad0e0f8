# jwtgate developer entry points. `make test` is what CI runs (.ci/run).
GO ?= go
BIN := bin/jwtgate

.PHONY: all build envoy test demo golden bench fmt vet clean distclean

all: build

## build: compile the jwtgate binary into bin/jwtgate
build:
	$(GO) build -o $(BIN) ./cmd/jwtgate

## envoy: install a real Envoy 1.40.0 into .bin/envoy (idempotent)
envoy:
	hack/install-envoy.sh

## test: vet and run every test, the end-to-end ones against a real Envoy
test: envoy
	$(GO) mod download
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

## demo: run httpbin, jwtgate and Envoy locally (gateway on 127.0.0.1:8080)
demo:
	hack/demo.sh

## golden: regenerate translate's golden files after an intended change
golden:
	$(GO) test ./translate -update

## bench: translate benchmarks
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./translate/

## fmt: gofmt every Go file
fmt:
	gofmt -w $$(git ls-files '*.go')

## vet: go vet every package
vet:
	$(GO) vet ./...

## clean: remove build output and demo state (keeps the downloaded Envoy)
clean:
	rm -rf bin .demo

## distclean: clean, and remove the downloaded Envoy too
distclean: clean
	rm -rf .bin
