# dstt — build, test, generate.
#
#   make test    everything CI runs: vet, unit + integration tests (real
#                CometBFT node, Pebble on disk, real processes), -race on
#                the engine and the store
#   make build   bin/dstt
#   make fuzz    each fuzz target for FUZZTIME (default 60s)
#   make bench   the engine benchmark (see docs/PERFORMANCE.md)
#   make proto   regenerate types/*.pb.go from proto/ (needs protoc)

GO        ?= go
# CometBFT's own block store and state use Pebble; cometbft-db compiles its
# Pebble backend only with this tag. Every go command below inherits it.
export GOFLAGS := $(strip $(GOFLAGS) -tags=pebbledb)
FUZZTIME  ?= 60s
GOGOPROTO  = $(shell $(GO) list -m -f '{{.Dir}}' github.com/cosmos/gogoproto)
PROTOC_GEN = $(shell $(GO) env GOPATH)/bin/protoc-gen-gocosmos

.PHONY: all build test test-deps vet unit race fuzz bench proto clean

all: build

build:
	$(GO) build -o bin/dstt ./cmd/dstt

# test-deps installs, idempotently, what the tests need beyond Go.
# (Nothing yet for the core; later issues add rsyslog and a Vault build.)
test-deps:
	@true

vet:
	$(GO) vet ./...

unit:
	$(GO) test -count=1 ./...

race:
	$(GO) test -count=1 -race ./abci/ ./storage/

test: test-deps vet unit race

fuzz:
	$(GO) test ./types -run '^$$' -fuzz FuzzDecodeTx -fuzztime $(FUZZTIME)
	$(GO) test ./abci -run '^$$' -fuzz FuzzCheckTx -fuzztime $(FUZZTIME)

bench:
	$(GO) test ./abci -run '^$$' -bench FinalizeCommit -benchtime 20x

proto:
	@command -v protoc >/dev/null || { echo "protoc missing: apt-get install -y protobuf-compiler"; exit 1; }
	@test -x $(PROTOC_GEN) || $(GO) install github.com/cosmos/gogoproto/protoc-gen-gocosmos@v1.7.2
	rm -rf .cache/proto && mkdir -p .cache/proto
	protoc -I proto -I $(GOGOPROTO) --plugin=protoc-gen-gocosmos=$(PROTOC_GEN) \
		--gocosmos_out=plugins=grpc,paths=source_relative:.cache/proto proto/dstt/v1/*.proto
	cp .cache/proto/dstt/v1/*.pb.go types/
	gofmt -l types

clean:
	rm -rf bin .cache
