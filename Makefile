# dstt — build, test, generate.
#
#   make test    everything CI runs: vet, staticcheck, the length ratchet, unit +
#                integration tests (real CometBFT node, Pebble on disk, real
#                processes), -race on the packages with goroutines
#   make lint    staticcheck (STATICCHECK_VERSION, built once into a per-user
#                cache by `make lint-deps`, like Vault) over the main module
#   make lengthcheck  no function over 80 lines, no file over 600 lines (tests
#                and generated code aside). A ratchet: today's offenders are
#                listed in tools/lengthcheck/allow.txt and may only shrink; a
#                new offender or a listed one that grew fails. After shrinking
#                code, `go run ./tools/lengthcheck -update` lowers the list.
#   make race    -race on every package that runs goroutines (see RACE_PKGS)
#   make build   bin/dstt
#   make fuzz    each fuzz target for FUZZTIME (default 60s)
#   make bench   the engine benchmark (see docs/PERFORMANCE.md)
#   make bench-compare  dstt vs the tuned kvstore, 1 and 4 validators (bench/compare.sh)
#   make bench-scale  cost by state size (10k-10M keys) and validator count (1, 4, 7):
#                data files, plots and tables in docs/PERFORMANCE.md (bench/scale.sh)
#   make e2e     only the multi-validator network tests (testnet/: crash, quorum
#                loss, governance, evidence, libp2p, scripts; ~3 min; in `test` too)
#   make faults  the network fault tests with 10x longer fault phases (as root)
#   make bench-failover  commit latency with 1 of 4 validators down (docs/PERFORMANCE.md)
#   make gtx-faults  the global-transaction fault tests (participant crash; validator+executor killed -9)
#   make bench-gtx  two-branch sagas through dstt and through DTM side by side (docs/PERFORMANCE.md)
#   make proto   regenerate types/*.pb.go from proto/ (needs protoc)

GO        ?= go
# CometBFT's own block store and state use Pebble; cometbft-db compiles its
# Pebble backend only with this tag. Every go command below inherits it.
export GOFLAGS := $(strip $(GOFLAGS) -tags=pebbledb)
FUZZTIME  ?= 60s
GOGOPROTO  = $(shell $(GO) list -m -f '{{.Dir}}' github.com/cosmos/gogoproto)
PROTOC_GEN = $(shell $(GO) env GOPATH)/bin/protoc-gen-gocosmos

.PHONY: faults
.PHONY: bench-gtx
.PHONY: gtx-faults
.PHONY: all build test test-deps test-deps-vault test-deps-ecs vet unit race lint lint-deps lengthcheck fuzz bench bench-compare bench-retention bench-statesync e2e bench-failover proto clean

all: build

build:
	$(GO) build -o bin/dstt ./cmd/dstt

# test-deps installs, idempotently, what the tests need beyond Go.
# rsyslog (+ its GnuTLS and OpenSSL TLS drivers): the real SIEM receiver of
# the audit sink tests (audit/sink); protobuf-compiler: the check that the
# committed types/*.pb.go match proto/; jq, curl and iproute2 (ss): the
# commands of the docs that the doc tests run (docs/doctest); postgresql:
# the participants' own databases in the cross-organisation transaction
# tests (testnet/pgtest starts a throwaway cluster per test with
# initdb/pg_ctl; under `make test` those tests fail instead of skipping
# when it is missing); chromium: the browser the explorer's tests drive
# (test-ui); nftables and iptables: the partitions of the network fault
# tests (testnet, in network namespaces; as root); podman and runc: the
# container image test (deploy/; runc, as crun refuses hybrid cgroups). Installed with apt-get (as root, on Debian) only
# when a package is missing.
RSYSLOG_PKGS = rsyslog rsyslog-gnutls rsyslog-openssl protobuf-compiler jq curl iproute2 postgresql chromium nftables iptables podman runc
test: export DSTT_REQUIRE_POSTGRES := 1
test-deps: test-deps-vault test-deps-ecs
	@missing=""; for p in $(RSYSLOG_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "test-deps: apt-get install$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq --no-install-recommends $$missing >/dev/null 2>&1 || \
		{ apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; } || \
		{ echo "test-deps: could not install$$missing (needs root and apt)"; exit 1; }; \
	fi

# A real HashiCorp Vault for the Vault tests (security/, cmd/dstt): built
# once from source (tools/vault, its own go.mod) into a per-user cache and
# reused; nothing is built when the binary is there. A cold build takes
# ~15 min on 2 cores and ~4 GB of Go build cache. Override VAULT_BIN to use
# another binary. Under `make test` the Vault tests fail instead of skipping
# when it is missing.
VAULT_VERSION ?= 1.21.0
VAULT_BIN     ?= $(HOME)/.cache/dstt/vault-$(VAULT_VERSION)/vault
export DSTT_VAULT_BIN := $(VAULT_BIN)
test: export DSTT_REQUIRE_VAULT := 1
test: export DSTT_REQUIRE_PROTOC := 1
test: export DSTT_REQUIRE_NETNS := 1
test: export DSTT_REQUIRE_PODMAN := 1

test-deps-vault:
	@if [ -x "$(VAULT_BIN)" ]; then echo "vault: using $(VAULT_BIN)"; else \
		echo "vault: building Vault $(VAULT_VERSION) into $(VAULT_BIN) (once; ~15 min cold)"; \
		mkdir -p "$(dir $(VAULT_BIN))" && \
		cd tools/vault && GOFLAGS= GOWORK=off $(GO) build -trimpath -ldflags="-s -w" \
			-o "$(VAULT_BIN).partial" github.com/hashicorp/vault && \
		mv "$(VAULT_BIN).partial" "$(VAULT_BIN)" && "$(VAULT_BIN)" version; fi

# The Elastic Common Schema the ECS format is checked against
# (audit/format): Elastic's published package @elastic/ecs, fetched once
# with npm pack into a per-user cache, its field table (generated/ecs_flat)
# exported to ecs_flat.json; nothing is fetched when that file is there.
# Under `make test` the ECS schema test fails instead of skipping when it
# is missing.
ECS_VERSION ?= 9.4.0
ECS_DIR     ?= $(HOME)/.cache/dstt/ecs-$(ECS_VERSION)
export DSTT_ECS_DIR := $(ECS_DIR)
test: export DSTT_REQUIRE_ECS := 1

export ECS_EXPORT_JS := const p = require("./package/package.json"); if (p.version !== process.argv[1]) throw new Error("npm gave @elastic/ecs " + p.version); require("fs").writeFileSync("ecs_flat.json", JSON.stringify(require("./package/build/commonjs/ecs_flat.js").EcsFlat));
test-deps-ecs:
	@if [ -s "$(ECS_DIR)/ecs_flat.json" ]; then echo "ecs: using $(ECS_DIR)"; else \
		echo "ecs: fetching @elastic/ecs@$(ECS_VERSION) into $(ECS_DIR)"; \
		rm -rf "$(ECS_DIR).partial" && mkdir -p "$(ECS_DIR).partial" && \
		cd "$(ECS_DIR).partial" && npm pack --silent "@elastic/ecs@$(ECS_VERSION)" >/dev/null && \
		tar xzf elastic-ecs-$(ECS_VERSION).tgz && \
		node -e "$$ECS_EXPORT_JS" "$(ECS_VERSION)" && \
		rm -rf "$(ECS_DIR)" && mv "$(ECS_DIR).partial" "$(ECS_DIR)" && echo "ecs: $(ECS_DIR)/ecs_flat.json"; fi

vet:
	$(GO) vet ./...

# lint-deps installs staticcheck once into a per-user cache and reuses it,
# like Vault (~20 s cold, nothing when the binary is there). GOFLAGS is
# cleared so this module's flags do not leak into the tool's build. Override
# STATICCHECK_BIN to use another binary. The default check set applies.
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK_BIN     ?= $(HOME)/.cache/dstt/staticcheck-$(STATICCHECK_VERSION)/staticcheck

lint-deps:
	@if [ -x "$(STATICCHECK_BIN)" ]; then echo "staticcheck: using $(STATICCHECK_BIN)"; else \
		echo "staticcheck: installing $(STATICCHECK_VERSION) into $(STATICCHECK_BIN)"; \
		mkdir -p "$(dir $(STATICCHECK_BIN))" && \
		GOFLAGS= GOBIN="$(abspath $(dir $(STATICCHECK_BIN)))" \
			$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) && \
		"$(STATICCHECK_BIN)" -version; fi

lint: lint-deps
	"$(STATICCHECK_BIN)" -tags pebbledb ./...

# lengthcheck: the size ratchet (see the header and tools/lengthcheck).
lengthcheck:
	$(GO) run ./tools/lengthcheck

unit:
	$(GO) test -count=1 ./...

# race: -race on every package whose code runs goroutines (the engine and
# store, audit's node log and sinks, the CometBFT node, the Vault signer and
# its serve loop, the REST gateway and the client SDK, the bench runner),
# given as trees so packages split out of them stay covered (~1.5 min on 2
# busy cores), and cmd/dstt and testnet, whose tests then build the dstt
# binary they exec with -race and fail on any race a node reports (~2.5 min
# more: the two run side by side, mostly waiting on blocks). Left out:
# types/ and rbac/, pure code without goroutines. Skipped under
# -race only: TestTxnCounterUnderContention (16 writers on one key; at the
# race detector's speed an increment can lose 64 retries in a row), which
# `unit` runs, and the network fault tests TestPartitions, TestSlowLinks and
# TestClockSkew (about a minute each of real nodes under faults; `unit` runs them).
RACE_PKGS = ./abci/... ./storage/... ./audit/... ./consensus/... ./security/... ./transport/... ./bench/... ./cmd/dstt ./testnet
RACE_SKIP = ^(TestTxnCounterUnderContention|TestPartitions|TestSlowLinks|TestClockSkew)$$
race:
	$(GO) test -count=1 -race -skip '$(RACE_SKIP)' $(RACE_PKGS)

test: test-deps vet lint lengthcheck unit race test-ts test-ui

# test-ts: the TypeScript SDK's tests (sdk/ts): the shared wire vectors, and
# a real node (bin/dstt, started and stopped by the tests on free loopback
# ports) for submit, reads, signed reads, transactions and event streams.
# npm ci runs only when package-lock.json changed (stamp in node_modules).
.PHONY: test-ts test-ui
test-ts: build sdk/ts/node_modules/.npm-ci.stamp
	cd sdk/ts && DSTT_BIN=$(CURDIR)/bin/dstt npm test --silent

sdk/ts/node_modules/.npm-ci.stamp: sdk/ts/package-lock.json
	cd sdk/ts && npm ci --no-audit --no-fund
	touch $@

# test-ui: the web explorer (ui/, embedded and served at /ui): the committed
# build (ui/dist, ui/build.json) is rebuilt from its sources and compared
# byte for byte, then Playwright drives Debian's Chromium against a real dev
# node (bin/dstt). `make ui` rebuilds it after a change to ui/src or
# sdk/ts/src; `make ui-screenshots` also rewrites docs/explorer/*.png.
.PHONY: ui ui-screenshots ui-scale
test-ui: build ui/node_modules/.npm-ci.stamp
	cd ui && node scripts/check.mjs
	cd ui && DSTT_BIN=$(CURDIR)/bin/dstt npx playwright test

ui: ui/node_modules/.npm-ci.stamp
	cd ui && npm run build

ui-screenshots: build ui/node_modules/.npm-ci.stamp
	cd ui && UPDATE_SCREENSHOTS=1 DSTT_BIN=$(CURDIR)/bin/dstt npx playwright test

# ui-scale: the explorer on a key with 100,000 versions (VERSIONS=N to
# change; a few minutes; docs/EXPLORER.md, Size).
ui-scale: build ui/node_modules/.npm-ci.stamp sdk/ts/node_modules/.npm-ci.stamp
	cd sdk/ts && npm run build --silent
	cd ui && DSTT_BIN=$(CURDIR)/bin/dstt npx playwright test -c playwright.scale.config.ts

ui/node_modules/.npm-ci.stamp: ui/package-lock.json
	cd ui && npm ci --no-audit --no-fund
	touch $@

fuzz:
	$(GO) test ./types -run '^$$' -fuzz FuzzDecodeTx -fuzztime $(FUZZTIME)
	$(GO) test ./types -run '^$$' -fuzz FuzzValidateTx -fuzztime $(FUZZTIME)
	$(GO) test ./abci/engine -run '^$$' -fuzz FuzzCheckTx -fuzztime $(FUZZTIME)
	$(GO) test ./audit -run '^$$' -fuzz 'FuzzDecode$$' -fuzztime $(FUZZTIME)
	$(GO) test ./audit -run '^$$' -fuzz FuzzDecodeQueries -fuzztime $(FUZZTIME)
	$(GO) test ./audit -run '^$$' -fuzz FuzzParseAnchorResource -fuzztime $(FUZZTIME)
	$(GO) test ./transport/rest -run '^$$' -fuzz FuzzDecodeSubmitRequest -fuzztime $(FUZZTIME)
	$(GO) test ./security -run '^$$' -fuzz FuzzVerify -fuzztime $(FUZZTIME)
	$(GO) test ./security -run '^$$' -fuzz FuzzDecodeEnvelope -fuzztime $(FUZZTIME)
	$(GO) test ./storage -run '^$$' -fuzz FuzzDataKey -fuzztime $(FUZZTIME)

bench:
	$(GO) test ./abci/engine -run '^$$' -bench FinalizeCommit -benchtime 20x

# bench-compare: dstt against CometBFT's kvstore tuned for throughput, 1 and
# 4 validators in one run, and the goals table (docs/PERFORMANCE.md). Knobs:
# see the script.
bench-compare:
	bash bench/compare.sh

# bench-scale: how cost grows with the state and the validator count; writes
# docs/perf/ and the generated tables of docs/PERFORMANCE.md. Knobs: see the
# script (SMOKE=1 for a quick run).
.PHONY: bench-scale
bench-scale:
	bash bench/scale.sh

# e2e: the testnet/ end-to-end tests alone (`unit` runs them too).
e2e:
	$(GO) test -count=1 -v ./testnet

# bench-retention: a chain of 1,000,000 versions over 100,000 keys, then
# SetRetention to the last 1,000 heights: disk before and after
# (docs/PERFORMANCE.md). Not part of `make test`.
bench-retention:
	$(GO) run ./bench/retention

# faults: the network fault tests (testnet/faults_e2e_test.go: partitions with
# nftables in network namespaces; as root; slowlinks_e2e_test.go, skew_test.go)
# with 10x longer fault phases than the CI-sized run in `test`.
faults:
	DSTT_FAULTS_LONG=1 DSTT_REQUIRE_NETNS=1 $(GO) test -count=1 -v -timeout 30m -run 'TestPartitions|TestSlowLinks|TestClockSkew' ./testnet

# bench-statesync: a new node's catch-up by state sync vs by replay on a
# 4-validator testnet (docs/PERFORMANCE.md), its chain built to
# TARGET_HEIGHT=50000 with KEYS=100000 (puts at RATE=130 tx/s,
# SNAPSHOT_INTERVAL=1000), JOIN_GAP=500 blocks above the newest snapshot;
# about 35 minutes. BUILD_ONLY=1 / CHAIN_DIR=DIR: build once, join later.
bench-statesync: build
	bash bench/statesync.sh

# gtx-faults: the global-transaction fault tests (in `test` too): a participant
# crashed mid-branch (transport/executor) and, on a 4-validator testnet of
# dstt processes, a validator running an executor killed -9 mid-run (testnet).
gtx-faults: test-deps
	DSTT_REQUIRE_POSTGRES=1 $(GO) test -count=1 -v -run 'TestInterbankTransfer|TestGtxValidatorKilled' ./transport/executor ./testnet

# bench-gtx: the same two-branch saga (two PostgreSQL-backed banks) through
# dstt (one validator, one executor) and through a DTM server (BoltDB),
# GTX_SAGAS sagas each, 32 in flight (DSTT_BENCH_SAGAS). DTM is built once
# from tools/dtm (its own go.mod) into a per-user cache, like Vault.
DTM_VERSION ?= 1.19.0
DTM_BIN     ?= $(HOME)/.cache/dstt/dtm-$(DTM_VERSION)/dtm
GTX_SAGAS   ?= 300
bench-gtx: test-deps
	@if [ -x "$(DTM_BIN)" ]; then echo "dtm: using $(DTM_BIN)"; else \
		echo "dtm: building DTM $(DTM_VERSION) into $(DTM_BIN) (once)"; \
		mkdir -p "$(dir $(DTM_BIN))" && \
		cd tools/dtm && GOFLAGS= GOWORK=off $(GO) build -trimpath -ldflags="-s -w" \
			-o "$(DTM_BIN).partial" github.com/dtm-labs/dtm && \
		mv "$(DTM_BIN).partial" "$(DTM_BIN)"; fi
	DSTT_DTM_BIN="$(DTM_BIN)" $(GO) test ./transport/executor -run '^$$' -bench 'Saga(Dstt|DTM)$$' -benchtime $(GTX_SAGAS)x

bench-failover:
	$(GO) test ./testnet -run '^$$' -bench FailoverLatency -benchtime 1x -v

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
