#!/usr/bin/env bash
# bench/compare.sh — the side-by-side benchmark of issue 7 (make bench-compare).
#
# In one run, on this machine, with the same CometBFT config (homes made by
# dstt's consensus package):
#   (a) CometBFT v0.40's example kvstore through CometBFT's HTTP JSON-RPC
#       (broadcast_tx_sync from a separate client process, commits seen on
#       the websocket);
#   (b) the same kvstore with the load generator inside the node process
#       (CometBFT's in-process RPC client);
#   (c) dstt — signatures, replay protection, RBAC, versioned store — through
#       its REST gateway, POST /v1/txs in commit mode, from `dstt bench`;
#   plus dstt at light load (open loop, one tx per request) for latency.
# It prints committed tx/s, latency percentiles and the ratios, and keeps
# every JSON report, the nodes' logs and (PROFILE=1) a CPU profile of the
# dstt node under load in $OUT.
#
# Knobs (environment):
#   DURATION, WARMUP        measured / warmup time per run (20s, 5s)
#   TIMEOUT_COMMIT          consensus.timeout_commit for every home ("" keeps
#                           the home's default: 100ms for dstt init)
#   KV_CONCURRENCY          kvstore workers, one tx per request (800: the RPC
#                           server allows 900 connections)
#   KV_BATCH_CONCURRENCY    kvstore workers with batches of KV_BATCH txs (400 x 10:
#                           JSON-RPC batch requests over HTTP, at most 10 by
#                           CometBFT's default max_request_batch_size; in (b),
#                           sequential in-process calls)
#   DSTT_CONCURRENCY        dstt bench workers (16), DSTT_BATCH txs each (250)
#   DSTT_PRESIGN            put txs signed before the run (400000)
#   LIGHT_RATE              light-load offered tx/s (20)
#   VALIDATORS              1 (default), or 4: also a 4-validator local
#                           testnet (dstt testnet init), load on node1's gateway
#   CONFIG_SED              extra sed script applied to every home's config.toml,
#                           for experiments applied to all systems alike, e.g.
#                           's/^indexer = .*/indexer = "null"/;s/^recheck = .*/recheck = false/'
#   PROFILE=1               30 s CPU profile of the dstt node during (c)
#   BASE_PORT               first of the ports used (46600)
#   OUT                     where results go (${TMPDIR:-/tmp}/dstt-bench-DATE)
set -euo pipefail

cd "$(dirname "$0")/.."
DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-5s}
TIMEOUT_COMMIT=${TIMEOUT_COMMIT:-}
KV_CONCURRENCY=${KV_CONCURRENCY:-800}
KV_BATCH_CONCURRENCY=${KV_BATCH_CONCURRENCY:-400}
KV_BATCH=${KV_BATCH:-10}
DSTT_CONCURRENCY=${DSTT_CONCURRENCY:-16}
DSTT_BATCH=${DSTT_BATCH:-250}
DSTT_PRESIGN=${DSTT_PRESIGN:-400000}
LIGHT_RATE=${LIGHT_RATE:-20}
VALIDATORS=${VALIDATORS:-1}
PROFILE=${PROFILE:-0}
CONFIG_SED=${CONFIG_SED:-}
BASE_PORT=${BASE_PORT:-46600}
OUT=${OUT:-${TMPDIR:-/tmp}/dstt-bench-$(date +%Y%m%d-%H%M%S)}
case " ${GOFLAGS:-} " in *-tags=pebbledb*) ;; *) export GOFLAGS="${GOFLAGS:-} -tags=pebbledb" ;; esac

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d /tmp/dstt-compare.XXXXXX)
BIN="$WORK/bin"
PIDS=()
cleanup() {
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

log() { echo "== $*" >&2; }

log "building into $BIN"
mkdir -p "$BIN"
go build -o "$BIN/dstt" ./cmd/dstt
go build -o "$BIN/kvstore" ./bench/kvstore

{
	echo "date: $(date -u +%FT%TZ)"
	echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown) (working tree may differ)"
	echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
	echo "go: $(go version)"
	echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "duration: $DURATION (+ warmup $WARMUP), timeout_commit: ${TIMEOUT_COMMIT:-home default}${CONFIG_SED:+, config sed: $CONFIG_SED}"
	echo "kvstore: $KV_CONCURRENCY workers x 1 tx, $KV_BATCH_CONCURRENCY x $KV_BATCH; dstt: $DSTT_CONCURRENCY workers x $DSTT_BATCH txs, $DSTT_PRESIGN presigned"
} > "$OUT/env.txt"
cat "$OUT/env.txt" >&2

# tune_home HOME [PPROF_ADDR]: the same consensus pacing for every system.
tune_home() {
	local cfg="$1/config/config.toml"
	if [ -n "$TIMEOUT_COMMIT" ]; then
		sed -i "s/^timeout_commit = .*/timeout_commit = \"$TIMEOUT_COMMIT\"/" "$cfg"
	fi
	if [ -n "${2:-}" ]; then
		sed -i "s/^pprof_laddr = .*/pprof_laddr = \"$2\"/" "$cfg"
	fi
	if [ -n "$CONFIG_SED" ]; then
		sed -i "$CONFIG_SED" "$cfg"
	fi
	grep -E '^(timeout_commit|skip_timeout_commit|pprof_laddr|indexer|recheck) =' "$cfg" >&2
}

# wait_http URL: until it answers (60 s).
wait_http() {
	for _ in $(seq 600); do
		curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "no answer from $1" >&2
	return 1
}

stop_pid() { kill -INT "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

KV_RPC=$((BASE_PORT + 1)) KV_P2P=$((BASE_PORT + 2))
DS_RPC=$((BASE_PORT + 11)) DS_P2P=$((BASE_PORT + 12)) DS_REST=$((BASE_PORT + 13)) DS_PPROF=$((BASE_PORT + 14))

# (a) kvstore through the HTTP RPC.
log "(a) kvstore via CometBFT HTTP RPC"
"$BIN/kvstore" init --home "$WORK/kva" --rpc-laddr "tcp://127.0.0.1:$KV_RPC" --p2p-laddr "tcp://127.0.0.1:$KV_P2P"
tune_home "$WORK/kva"
"$BIN/kvstore" node --home "$WORK/kva" 2> "$OUT/a-node.log" &
PIDS+=($!)
KV_PID=$!
wait_http "http://127.0.0.1:$KV_RPC/status"
"$BIN/kvstore" load --rpc "tcp://127.0.0.1:$KV_RPC" --concurrency "$KV_CONCURRENCY" \
	--duration "$DURATION" --warmup "$WARMUP" -json > "$OUT/a.json" 2> "$OUT/a-progress.log"
log "(a') kvstore via CometBFT HTTP RPC, JSON-RPC batches"
"$BIN/kvstore" load --rpc "tcp://127.0.0.1:$KV_RPC" --concurrency "$KV_BATCH_CONCURRENCY" --batch "$KV_BATCH" \
	--duration "$DURATION" --warmup "$WARMUP" -json > "$OUT/a2.json" 2> "$OUT/a2-progress.log"
stop_pid "$KV_PID"

# (b) the same, in-process.
log "(b) kvstore in-process"
"$BIN/kvstore" init --home "$WORK/kvb" --rpc-laddr "tcp://127.0.0.1:$KV_RPC" --p2p-laddr "tcp://127.0.0.1:$KV_P2P"
tune_home "$WORK/kvb"
"$BIN/kvstore" inproc --home "$WORK/kvb" --concurrency "$KV_BATCH_CONCURRENCY" --batch "$KV_BATCH" \
	--duration "$DURATION" --warmup "$WARMUP" -json > "$OUT/b.json" 2> "$OUT/b-progress.log"

# (c) dstt through the REST gateway.
run_dstt_single() {
	local home="$WORK/dstt"
	local start=("$BIN/dstt" start --dev --home "$home" --rpc-laddr "tcp://127.0.0.1:$DS_RPC"
		--p2p-laddr "tcp://127.0.0.1:$DS_P2P" --rest-laddr "127.0.0.1:$DS_REST" --log-level error --comet-log-level error)
	# First start initialises the dev home (the dev key is the chain admin).
	"${start[@]}" 2> "$OUT/c-init.log" &
	local pid=$!
	PIDS+=("$pid")
	wait_http "http://127.0.0.1:$DS_REST/readyz"
	stop_pid "$pid"
	tune_home "$home" "127.0.0.1:$DS_PPROF"
	"${start[@]}" 2> "$OUT/c-node.log" &
	pid=$!
	PIDS+=("$pid")
	wait_http "http://127.0.0.1:$DS_REST/readyz"

	log "(c) dstt via REST, $DSTT_CONCURRENCY workers x $DSTT_BATCH txs"
	if [ "$PROFILE" = 1 ]; then
		( sleep "$(( ${WARMUP%s} + 10 ))"; curl -fsS -o "$OUT/c-cpu.pprof" \
			"http://127.0.0.1:$DS_PPROF/debug/pprof/profile?seconds=30" ) &
		PIDS+=($!)
	fi
	"$BIN/dstt" bench --home "$home" --target "http://127.0.0.1:$DS_REST" --mode closed \
		--concurrency "$DSTT_CONCURRENCY" --batch "$DSTT_BATCH" --presign "$DSTT_PRESIGN" \
		--duration "$DURATION" --warmup "$WARMUP" -o json > "$OUT/c.json" 2> "$OUT/c-progress.log"
	curl -fsS "http://127.0.0.1:$DS_REST/metrics" > "$OUT/c-metrics.txt" || true
	wait_profile

	log "dstt light load: open loop, $LIGHT_RATE tx/s, one tx per request"
	"$BIN/dstt" bench --home "$home" --target "http://127.0.0.1:$DS_REST" --mode open \
		--rate "$LIGHT_RATE" --batch 1 --concurrency 64 \
		--duration "$DURATION" --warmup "$WARMUP" -o json > "$OUT/light.json" 2> "$OUT/light-progress.log"
	stop_pid "$pid"
}

wait_profile() {
	if [ "$PROFILE" = 1 ]; then
		for _ in $(seq 600); do [ -s "$OUT/c-cpu.pprof" ] && break; sleep 0.1; done
		if [ -s "$OUT/c-cpu.pprof" ]; then
			go tool pprof -top -nodecount=40 "$BIN/dstt" "$OUT/c-cpu.pprof" > "$OUT/c-cpu-top.txt" 2>/dev/null || true
			go tool pprof -top -cum -nodecount=40 "$BIN/dstt" "$OUT/c-cpu.pprof" > "$OUT/c-cpu-cum.txt" 2>/dev/null || true
		fi
	fi
}

# 4 validators: a local testnet from `dstt testnet init` (one org each,
# every node's "dev" key a genesis admin), each node serving its gateway;
# the load goes to node1's gateway and reaches the others by gossip.
run_dstt_testnet4() {
	local net="$WORK/net" base=$((BASE_PORT + 100)) pids=() i
	log "4 validators: dstt testnet init"
	"$BIN/dstt" testnet init --dir "$net" --validators 4 --base-port "$base" > "$OUT/net-init.log" 2>&1
	for i in 1 2 3 4; do
		tune_home "$net/node$i"
		"$BIN/dstt" start --home "$net/node$i" --rest-laddr "127.0.0.1:$((base + 50 + i))" \
			--log-level error --comet-log-level error 2> "$OUT/net-node$i.log" &
		pids+=($!)
		PIDS+=($!)
	done
	for i in 1 2 3 4; do wait_http "http://127.0.0.1:$((base + 50 + i))/readyz"; done
	local gw="http://127.0.0.1:$((base + 51))"
	log "(c4) dstt, 4 validators, via node1's REST gateway"
	"$BIN/dstt" bench --home "$net/node1" --target "$gw" --mode closed \
		--concurrency "$DSTT_CONCURRENCY" --batch "$DSTT_BATCH" --presign "$DSTT_PRESIGN" \
		--duration "$DURATION" --warmup "$WARMUP" -o json > "$OUT/c4.json" 2> "$OUT/c4-progress.log"
	log "4 validators, light load"
	"$BIN/dstt" bench --home "$net/node1" --target "$gw" --mode open \
		--rate "$LIGHT_RATE" --batch 1 --concurrency 64 \
		--duration "$DURATION" --warmup "$WARMUP" -o json > "$OUT/light4.json" 2> "$OUT/light4-progress.log"
	for p in "${pids[@]}"; do stop_pid "$p"; done
}

run_dstt_single
if [ "$VALIDATORS" = 4 ]; then run_dstt_testnet4; fi

echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/env.txt"
extra=()
if [ -s "$OUT/c4.json" ]; then extra=(--c4 "$OUT/c4.json" --light4 "$OUT/light4.json"); fi
"$BIN/kvstore" compare --a "$OUT/a.json" --a2 "$OUT/a2.json" --b "$OUT/b.json" --c "$OUT/c.json" --light "$OUT/light.json" "${extra[@]}" | tee "$OUT/summary.txt"
echo "results in $OUT" >&2
