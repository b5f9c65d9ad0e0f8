# jwtgate developer entry points. `make test` is what CI runs (.ci/run).
GO ?= go
BIN := bin/jwtgate

.PHONY: all build envoy test demo golden bench fmt vet clean distclean

all: build

## build: compile the jwtgate binary into bin/jwtgate, stamped with
## `git describe` (jwtgate --version) and the VCS commit/time/dirty flag
build:
	$(GO) build -buildvcs=auto -ldflags "-X main.version=$$(git describe --tags --always --dirty 2>/dev/null)" -o $(BIN) ./cmd/jwtgate

## envoy: install a real Envoy 1.40.0 into .bin/envoy (idempotent)
envoy:
	hack/install-envoy.sh

# E2E_PKG is the end-to-end package (real Envoy, httpbin, the jwtgate binary).
E2E_PKG := ./test/

## test: vet and run every test; the end-to-end ones (against a real Envoy)
## run verbosely so the log shows each case and the apply latencies. Both
## sets run even if the first fails; any failure fails the target.
test: envoy
	$(GO) mod download
	$(GO) vet ./...
	@rc=0; \
	unit=$$($(GO) list ./... | grep -v '/test$$'); \
	echo "$(GO) test -count=1 -timeout 10m <unit packages>"; \
	$(GO) test -count=1 -timeout 10m $$unit || rc=1; \
	echo "$(GO) test -count=1 -timeout 20m -v $(E2E_PKG)"; \
	$(GO) test -count=1 -timeout 20m -v $(E2E_PKG) || rc=1; \
	exit $$rc

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
