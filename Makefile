# fleetprof — see README.md. Every target works on a fresh machine with Go.
GO        ?= go
BIN       := bin
TOOLS     := $(BIN)/tools
BUF_VER   := v1.75.0
BUF       := $(TOOLS)/buf
GOFLAGS   ?=
export PATH := $(CURDIR)/$(TOOLS):$(PATH)

.PHONY: all build test test-short generate check-generate lint bench soak fuzz fuzz-short demo demo-experiment clean

all: build

## build: every binary into bin/ (bin/fleetprof, bin/plugins/*, ...)
## The binaries are static, as the images build them (deploy/docker): no
## dynamic loader or libc to start, which takes ~40 % of the CPU of a
## `fleetprof --help` on a VM (BENCHMARKS.md, "One goroutine fewer").
build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -o $(BIN)/ ./collector/cmd/... ./agent/cmd/... ./integration/cmd/...
	@mkdir -p $(BIN)/plugins
	CGO_ENABLED=0 $(GO) build -o $(BIN)/plugins/ ./plugins/cmd/...
	@# The plugin host runs only binaries listed here with their sha256: the
	@# built-in analyzers just built, nothing else that sits in the folder.
	names=$$($(GO) list -f '{{.Dir}}' ./plugins/cmd/... | xargs -n1 basename); \
	  cd $(BIN)/plugins && sha256sum $$names > plugins.sha256

## test: everything CI runs (vet, generated-code drift, unit, integration, short fuzz)
test: build check-generate
	$(GO) vet ./...
	@# go test -json through .ci/testreport.go prints what plain go test
	@# prints (closing lines, exit status), then lists skipped tests loudly.
	$(GO) build -o $(TOOLS)/testreport .ci/testreport.go
	bash -o pipefail -c '$(GO) test -count=1 -timeout 20m -json ./... | $(TOOLS)/testreport'
	$(MAKE) fuzz-short

$(BUF):
	@mkdir -p $(TOOLS)
	GOBIN=$(CURDIR)/$(TOOLS) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VER)

## generate: regenerate Go from proto/ with buf
generate: $(BUF)
	$(BUF) lint
	$(BUF) generate

## check-generate: fail when the committed generated code differs from a fresh generate
check-generate: generate
	@git diff --exit-code --stat -- proto/ || (echo "generated code is stale: run 'make generate' and commit" >&2; exit 1)

## bench: Go benchmarks and the side-by-side comparison script (see BENCHMARKS.md)
bench: build
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./plugins/sdk/capture/... ./plugins/capture/...
	bash integration/bench/trim_vs_gzip.sh
	bash integration/bench/load.sh

## soak: kill -9 the collector at random moments during uploads, then damage
## its database: nothing lost or corrupted, every damage refused by name
## (DURATION=2m; see BENCHMARKS.md "Soak"). Not part of `make test`.
soak: build
	bash integration/bench/soak.sh

FUZZTIME ?= 60s
# Minimizing a new input counts outside -fuzztime (go's default is 60s), so
# bound it too: fuzz-short then takes about FUZZTIME + FUZZMINTIME per target.
FUZZMINTIME ?= 5s
## fuzz: run every fuzz target for FUZZTIME each (default 60s)
fuzz:
	@for t in $$(bash integration/bench/fuzz_targets.sh); do \
	  pkg=$${t%%:*}; fn=$${t##*:}; echo "fuzz $$pkg $$fn"; \
	  $(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINTIME) $$pkg || exit 1; done

## fuzz-short: a bounded run of each fuzz target, for CI. A count, not a
## duration: with a duration, Go 1.26's fuzz coordinator can fail a target
## with a bare "context deadline exceeded" at the end (go.dev/issue/75804).
fuzz-short:
	$(MAKE) fuzz FUZZTIME=20000x

## demo: the main job on embedded defaults (see README.md)
demo: build
	bash integration/demo/demo.sh

## demo-experiment: an input length × batch experiment on the simulated server, its scaling fits checked against the cost model (docs/experiments.md)
demo-experiment: build
	bash integration/demo/experiment.sh

clean:
	rm -rf $(BIN) demo-out bench-out
