#!/usr/bin/env bash
# bench/compare.sh — dstt against the strongest baseline (make bench-compare).
#
# In one run, on this machine, for 1 and 4 validators (VALIDATORS):
#   kvstore  CometBFT v0.40's example kvstore (persistent, no signatures),
#            tuned as its operators tune it for throughput: indexer "null",
#            timeout_commit 0s, a Go load generator (`kvstore load --pipeline`)
#            with 32 keep-alive HTTP workers sending broadcast_tx_sync and going on
#            as soon as CheckTx answers (at most KV_INFLIGHT txs uncommitted), run
#            twice — one tx per request, and JSON-RPC batches of 10 — the better
#            kept; commits are counted from the NewBlock events on the websocket;
#   dstt     dstt on the config `dstt init` / `dstt testnet init` write (nothing
#            changed but pprof_laddr): signatures, replay window, RBAC, audit chain,
#            versioned store, through its REST gateway (`dstt bench`, POST /v1/txs
#            in commit mode, 40 workers x 250 txs, txs signed before the run);
#   both at light load (open loop, LIGHT_RATE tx/s, one tx per request) for
#   commit latency; and the engine alone (BenchmarkFinalizeCommit).
# The multi-validator nets are `dstt testnet init` homes on this host (the
# kvstore runs in them too); the load goes to node1. It prints the goals table with
# the ratios against the tuned kvstore and every system's config, and keeps
# every JSON report, the nodes' logs and (PROFILE=1) CPU profiles of the dstt
# node under load (1 and 4 validators) in $OUT.
#
# Knobs (environment):
#   DURATION, WARMUP      measured / warmup time per run (20s, 5s)
#   VALIDATORS            "1 4" (default): validator counts, e.g. "1 4 7"
#   SYSTEMS               "kvstore dstt" (default), or one of them (for experiments)
#   KV_CONCURRENCY        kvstore workers (32), one tx per request or KV_BATCH
#   KV_INFLIGHT           most kvstore txs sent and not yet committed (10000)
#   KV_BATCH              txs per JSON-RPC batch request in the batched run (10:
#                         CometBFT's default max_request_batch_size)
#   KV_SED                sed script making the kvstore homes tuned (indexer null,
#                         timeout_commit 0s)
#   DSTT_CONCURRENCY      dstt bench workers (40), DSTT_BATCH txs each (250): 10,000
#                         txs in flight, as many as the kvstore's KV_INFLIGHT
#   DSTT_PRESIGN          txs signed before each run (400000)
#   DSTT_SED              sed script for the dstt homes ("": the default config)
#   DSTT_BENCH_ARGS       more `dstt bench` flags for the loaded dstt runs (e.g. --prefix)
#   DSTT_PREPARE          command run with the 1-validator dstt home as its
#                         argument, node stopped, before the measured start
#                         (make bench-scale pre-loads the state with it)
#   CONFIG_SED            sed script for every home, for experiments on all alike
#   LIGHT_RATE            light-load offered tx/s (20)
#   ENGINE=0              skip the engine benchmark
#   INPROC=1              also the kvstore with the load inside the node (1 validator)
#   PROFILE=1             30 s CPU profile of the loaded dstt node
#   BASE_PORT             first of the ports used (29600: below the ephemeral range,
#                         so closed client connections do not hold them in TIME-WAIT)
#   OUT                   where results go (${TMPDIR:-/tmp}/dstt-bench-DATE)
set -euo pipefail

cd "$(dirname "$0")/.."
DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-5s}
VALIDATORS=${VALIDATORS:-1 4}
SYSTEMS=${SYSTEMS:-kvstore dstt}
KV_CONCURRENCY=${KV_CONCURRENCY:-32}
KV_BATCH=${KV_BATCH:-10}
KV_INFLIGHT=${KV_INFLIGHT:-10000}
KV_SED=${KV_SED:-'s/^indexer = .*/indexer = "null"/;s/^timeout_commit = .*/timeout_commit = "0s"/'}
DSTT_CONCURRENCY=${DSTT_CONCURRENCY:-40}
DSTT_BATCH=${DSTT_BATCH:-250}
DSTT_PRESIGN=${DSTT_PRESIGN:-400000}
DSTT_SED=${DSTT_SED:-}
DSTT_PREPARE=${DSTT_PREPARE:-}
DSTT_BENCH_ARGS=${DSTT_BENCH_ARGS:-}
CONFIG_SED=${CONFIG_SED:-}
LIGHT_RATE=${LIGHT_RATE:-20}
ENGINE=${ENGINE:-1}
INPROC=${INPROC:-0}
PROFILE=${PROFILE:-0}
BASE_PORT=${BASE_PORT:-29600}
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
	echo "duration: $DURATION (+ warmup $WARMUP) per run; validators: $VALIDATORS; systems: $SYSTEMS"
	echo "kvstore load: kvstore load --pipeline $KV_INFLIGHT, $KV_CONCURRENCY workers, broadcast_tx_sync, 1 tx per request and JSON-RPC batches of $KV_BATCH (better kept)"
	echo "dstt load: dstt bench, $DSTT_CONCURRENCY workers x $DSTT_BATCH txs per POST /v1/txs (commit mode), $DSTT_PRESIGN presigned"
	echo "light load: open loop, $LIGHT_RATE tx/s, 1 tx per request"
	echo "config sed: kvstore: $KV_SED; dstt: ${DSTT_SED:-none}; all: ${CONFIG_SED:-none}"
} > "$OUT/env.txt"
cat "$OUT/env.txt" >&2

# tune_home HOME SED [PPROF_ADDR]: applies SED and CONFIG_SED to the home's
# config.toml and records the settings that decide throughput in
# $OUT/config-<label>.txt (label from the caller's LABEL).
tune_home() {
	local cfg="$1/config/config.toml"
	if [ -n "$2" ]; then sed -i "$2" "$cfg"; fi
	if [ -n "$CONFIG_SED" ]; then sed -i "$CONFIG_SED" "$cfg"; fi
	if [ -n "${3:-}" ]; then sed -i "s/^pprof_laddr = .*/pprof_laddr = \"$3\"/" "$cfg"; fi
	grep -E '^(timeout_commit|skip_timeout_commit|create_empty_blocks|peer_gossip_sleep_duration|flush_throttle_timeout|indexer|type|recheck|size|cache_size|send_rate|recv_rate|max_txs_bytes) =' "$cfg" |
		tr '\n' ' ' > "$OUT/config-$LABEL.txt"
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

# wait_chain RPC_HOSTPORT: until the node has left block sync and committed
# a block (a fresh testnet's nodes wait for their peers first), 120 s.
wait_chain() {
	local st
	for _ in $(seq 1200); do
		st=$(curl -fsS "http://$1/status" 2>/dev/null || true)
		if [[ $st == *'"catching_up":false'* && $st != *'"latest_block_height":"0"'* ]]; then return 0; fi
		sleep 0.1
	done
	echo "$1 did not start making blocks" >&2
	return 1
}

# record_resources LABEL PID DATA_DIR: the node's resident memory and its
# data directory's size after the loads, into $OUT/resources.txt.
record_resources() {
	local rss disk
	rss=$(ps -o rss= -p "$2" 2>/dev/null | tr -d ' ' || true)
	disk=$(du -sm "$3" 2>/dev/null | cut -f1 || true)
	echo "$1 rss_mib=$(( ${rss:-0} / 1024 )) data_mib=${disk:-?}" >> "$OUT/resources.txt"
}

stop_pid() { kill -INT "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# profile_during NAME PPROF_HOSTPORT: a 30 s CPU profile, started 10 s into
# the measured window (PROFILE=1), into $OUT/NAME-cpu.pprof.
profile_during() {
	[ "$PROFILE" = 1 ] || return 0
	( sleep "$(( ${WARMUP%s} + 10 ))"; curl -fsS -o "$OUT/$1-cpu.pprof" \
		"http://$2/debug/pprof/profile?seconds=30" ) &
	PIDS+=($!)
}

wait_profile() {
	[ "$PROFILE" = 1 ] || return 0
	for _ in $(seq 600); do [ -s "$OUT/$1-cpu.pprof" ] && break; sleep 0.1; done
	if [ -s "$OUT/$1-cpu.pprof" ]; then
		go tool pprof -top -nodecount=40 "$BIN/dstt" "$OUT/$1-cpu.pprof" > "$OUT/$1-cpu-top.txt" 2>/dev/null || true
		go tool pprof -top -cum -nodecount=60 "$BIN/dstt" "$OUT/$1-cpu.pprof" > "$OUT/$1-cpu-cum.txt" 2>/dev/null || true
	fi
}

# kv_load NAME RPC_HOSTPORT: the kvstore loads against a running node — one
# tx per request, batched, light — into $OUT/NAME-{1tx,batch,light}.json.
kv_load() {
	local rpc="tcp://$2" common=(--duration "$DURATION" --warmup "$WARMUP" -json)
	local pipe=(--pipeline "$KV_INFLIGHT" --concurrency "$KV_CONCURRENCY")
	log "$1: $KV_CONCURRENCY workers x 1 tx, pipelined"
	"$BIN/kvstore" load --rpc "$rpc" "${pipe[@]}" "${common[@]}" > "$OUT/$1-1tx.json" 2> "$OUT/$1-1tx-progress.log"
	log "$1: $KV_CONCURRENCY workers x $KV_BATCH-tx JSON-RPC batches, pipelined"
	"$BIN/kvstore" load --rpc "$rpc" "${pipe[@]}" --batch "$KV_BATCH" "${common[@]}" > "$OUT/$1-batch.json" 2> "$OUT/$1-batch-progress.log"
	log "$1: light load"
	"$BIN/kvstore" load --rpc "$rpc" --mode open --rate "$LIGHT_RATE" --concurrency 64 "${common[@]}" > "$OUT/$1-light.json" 2> "$OUT/$1-light-progress.log"
}

# dstt_load NAME HOME GATEWAY_URL: the dstt loads against a running node
# into $OUT/NAME.json and $OUT/NAME-light.json.
dstt_load() {
	local common=(--home "$2" --target "$3" --duration "$DURATION" --warmup "$WARMUP" -o json)
	log "$1: $DSTT_CONCURRENCY workers x $DSTT_BATCH txs"
	"$BIN/dstt" bench "${common[@]}" --mode closed --concurrency "$DSTT_CONCURRENCY" --batch "$DSTT_BATCH" \
		--presign "$DSTT_PRESIGN" $DSTT_BENCH_ARGS > "$OUT/$1.json" 2> "$OUT/$1-progress.log"
	log "$1: light load"
	"$BIN/dstt" bench "${common[@]}" --mode open --rate "$LIGHT_RATE" --batch 1 --concurrency 64 \
		> "$OUT/$1-light.json" 2> "$OUT/$1-light-progress.log"
}

kv_single() {
	local home="$WORK/kv1" rpc="127.0.0.1:$((BASE_PORT + 1))"
	LABEL=kv1
	"$BIN/kvstore" init --home "$home" --rpc-laddr "tcp://$rpc" --p2p-laddr "tcp://127.0.0.1:$((BASE_PORT + 2))"
	tune_home "$home" "$KV_SED"
	"$BIN/kvstore" node --home "$home" 2> "$OUT/kv1-node.log" &
	local pid=$!
	PIDS+=("$pid")
	wait_http "http://$rpc/status"
	kv_load kv1 "$rpc"
	record_resources kv1 "$pid" "$home/data"
	stop_pid "$pid"
	if [ "$INPROC" = 1 ]; then
		log "kvstore in-process, $KV_CONCURRENCY workers x $KV_BATCH txs"
		"$BIN/kvstore" init --home "$WORK/kvb" --rpc-laddr "tcp://$rpc" --p2p-laddr "tcp://127.0.0.1:$((BASE_PORT + 2))"
		tune_home "$WORK/kvb" "$KV_SED"
		"$BIN/kvstore" inproc --home "$WORK/kvb" --concurrency "$KV_CONCURRENCY" --batch "$KV_BATCH" \
			--duration "$DURATION" --warmup "$WARMUP" -json > "$OUT/kv1-inproc.json" 2> "$OUT/kv1-inproc-progress.log"
	fi
}

dstt_single() {
	local home="$WORK/dstt1" rest="127.0.0.1:$((BASE_PORT + 13))" pprof="127.0.0.1:$((BASE_PORT + 14))"
	LABEL=dstt1
	local start=("$BIN/dstt" start --dev --home "$home" --rpc-laddr "tcp://127.0.0.1:$((BASE_PORT + 11))"
		--p2p-laddr "tcp://127.0.0.1:$((BASE_PORT + 12))" --rest-laddr "$rest" --log-level error --comet-log-level error)
	# The first start initialises the dev home (the dev key is the chain admin).
	"${start[@]}" 2> "$OUT/dstt1-init.log" &
	local pid=$!
	PIDS+=("$pid")
	wait_http "http://$rest/readyz"
	stop_pid "$pid"
	if [ -n "$DSTT_PREPARE" ]; then $DSTT_PREPARE "$home" >> "$OUT/dstt1-prepare.log" 2>&1; fi
	tune_home "$home" "$DSTT_SED" "$pprof"
	"${start[@]}" 2> "$OUT/dstt1-node.log" &
	pid=$!
	PIDS+=("$pid")
	wait_http "http://$rest/readyz"
	profile_during dstt1 "$pprof"
	dstt_load dstt1 "$home" "http://$rest"
	curl -fsS "http://$rest/metrics" > "$OUT/dstt1-metrics.txt" || true
	wait_profile dstt1
	record_resources dstt1 "$pid" "$home/data"
	stop_pid "$pid"
}

# testnet SYSTEM N BASE: an N-validator `dstt testnet init` net at BASE, every
# node running SYSTEM (kvstore or dstt), the load on node1. Node i's ports
# are BASE+10(i-1) .. +4 (testnet init), its REST gateway +5; node1's pprof +6.
testnet() {
	local sys=$1 n=$2 base=$3 net="$WORK/net-$1-$2" pids=() i sed
	LABEL=dstt$n sed=$DSTT_SED
	if [ "$sys" = kvstore ]; then LABEL=kv$n sed=$KV_SED; fi
	log "$sys, $n validators: dstt testnet init"
	"$BIN/dstt" testnet init --dir "$net" --validators "$n" --base-port "$base" > "$OUT/$LABEL-init.log" 2>&1
	for i in $(seq "$n"); do
		local pp="" node=$((base + 10 * (i - 1)))
		if [ "$i" = 1 ]; then pp="127.0.0.1:$((base + 6))"; fi
		tune_home "$net/node$i" "$sed" "$pp"
		if [ "$sys" = kvstore ]; then
			"$BIN/kvstore" node --home "$net/node$i" 2> "$OUT/$LABEL-node$i.log" &
		else
			"$BIN/dstt" start --home "$net/node$i" --rest-laddr "127.0.0.1:$((node + 5))" \
				--log-level error --comet-log-level error 2> "$OUT/$LABEL-node$i.log" &
		fi
		pids+=($!)
		PIDS+=($!)
	done
	for i in $(seq "$n"); do wait_chain "127.0.0.1:$((base + 10 * (i - 1) + 1))"; done
	if [ "$sys" = kvstore ]; then
		kv_load "$LABEL" "127.0.0.1:$((base + 1))"
	else
		for i in $(seq "$n"); do wait_http "http://127.0.0.1:$((base + 10 * (i - 1) + 5))/readyz"; done
		profile_during "$LABEL" "127.0.0.1:$((base + 6))"
		dstt_load "$LABEL" "$net/node1" "http://127.0.0.1:$((base + 5))"
		wait_profile "$LABEL"
	fi
	record_resources "$LABEL" "${pids[0]}" "$net/node1/data"
	for p in "${pids[@]}"; do stop_pid "$p"; done
}

engine_bench() {
	[ "$ENGINE" = 1 ] || return 0
	log "engine alone: BenchmarkFinalizeCommit (cold, cached), 5 blocks of 10,000 txs"
	go test ./abci/engine -run '^$' -bench 'FinalizeCommit/(cold|cached)$' -benchtime 5x > "$OUT/engine.txt" 2>&1 || true
}

for v in $VALIDATORS; do
	for sys in $SYSTEMS; do
		case $v/$sys in
		1/kvstore) kv_single ;;
		1/dstt) dstt_single ;;
		[2-9]/kvstore) testnet kvstore "$v" $((BASE_PORT + 200)) ;;
		[2-9]/dstt) testnet dstt "$v" $((BASE_PORT + 100)) ;;
		*) echo "VALIDATORS: counts from 1 to 9, SYSTEMS: kvstore and/or dstt, not $v/$sys" >&2; exit 2 ;;
		esac
	done
done
engine_bench

echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/env.txt"
"$BIN/kvstore" compare --dir "$OUT" | tee "$OUT/summary.txt"
echo "results in $OUT" >&2
