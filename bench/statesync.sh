#!/usr/bin/env bash
# bench/statesync.sh: how long a new node takes to catch up with a running
# 4-validator testnet by state sync and by replaying every block
# (docs/PERFORMANCE.md). It makes a testnet in a temporary directory whose
# genesis sets snapshot_interval (SNAPSHOT_INTERVAL, default 1000), builds
# its chain with `dstt bench` puts of fresh keys at a steady RATE (default
# 130 tx/s, open loop, through node1's gateway) until the chain is at
# TARGET_HEIGHT (default 20000) and KEYS keys (default 100000) have been
# written, then adds a node with `testnet add-node --state-sync`, and one
# without, and times each from its start until its RPC reports it caught
# up at the height the chain had when it started. It fails unless both
# joined nodes end on node1's app hash at the same height. Run it with
# `make bench-statesync`; not part of `make test`.
#
# BUILD_ONLY=1 builds the chain, stops its nodes and keeps its directory;
# CHAIN_DIR=that directory later starts those nodes again and measures the
# joins on that chain (a long chain is built once, joined with new code).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${DSTT_BIN:-$PWD/bin/dstt}
BASE=${BASE_PORT:-31200}
TARGET_HEIGHT=${TARGET_HEIGHT:-20000}
KEYS=${KEYS:-100000}
RATE=${RATE:-130}
INTERVAL=${SNAPSHOT_INTERVAL:-1000}
DIR=${CHAIN_DIR:-$(mktemp -d /tmp/dstt-statesync-XXXXXX)}
[ -z "${BUILD_ONLY:-}" ] || KEEP=1
export TESTNET_DIR=$DIR DSTT_BIN=$BIN
# KEEP=1 keeps the testnet's directory (its logs) after the run.
cleanup() { testnet/down.sh >/dev/null 2>&1 || true; [ -n "${KEEP:-}" ] && echo "kept $DIR" || rm -rf "$DIR"; }
trap cleanup EXIT
die() { echo "statesync.sh: $*" >&2; exit 1; }
rpc() { echo "http://127.0.0.1:$((BASE + 10 * ($1 - 1) + 1))"; }
height() { curl -sf "$(rpc "$1")/status" | jq -r .result.sync_info.latest_block_height; }
# state: the height and app hash the node's app has committed.
state() { curl -sf "$(rpc "$1")/abci_info" | jq -r '.result.response | "\(.last_block_height) \(.last_block_app_hash)"'; }
now() { date +%s.%N; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "${CHAIN_DIR:-}" ]; then
	[ -f "$DIR/keys" ] && [ ! -d "$DIR/node5" ] || die "CHAIN_DIR=$DIR: not a chain built with BUILD_ONLY=1 (or already joined)"
	BASE=$(jq -r .base_port "$DIR/testnet.json")
	testnet/up.sh >/dev/null
else
	"$BIN" testnet init --dir "$DIR" --base-port "$BASE" --snapshot-interval "$INTERVAL" >/dev/null
	testnet/up.sh >/dev/null
fi

# Build the chain: bench runs of at most 60 s (each its own key prefix, so
# every committed put wrote a new key) until both targets are met; the
# last run is cut to about the blocks still missing.
keys=$(cat "$DIR/keys" 2>/dev/null || echo 0) run=0 t0=$(now)
[ -z "${CHAIN_DIR:-}" ] || TARGET_HEIGHT=0 KEYS=0 # as built
while h=$(height 1); ((h < TARGET_HEIGHT || keys < KEYS)); do
	run=$((run + 1)) t=$(now)
	secs=60
	if ((run > 1 && h < TARGET_HEIGHT && keys >= KEYS * h / TARGET_HEIGHT)); then
		bps=$(echo "($h - ${h0:-0}) / ($t - ${t1:-$t0})" | bc -l)
		secs=$(echo "s = ($TARGET_HEIGHT - $h) / $bps + 2; if (s > 60) s = 60; s / 1" | bc)
	fi
	h0=$h t1=$t
	n=$("$BIN" --home "$DIR/node1" bench --target "http://127.0.0.1:$((BASE + 3))" --mode open --rate "$RATE" \
		--concurrency 512 --warmup 0s --duration "${secs}s" --prefix "org1/ss$run/" -o json 2>/dev/null | jq -r .committed) || true
	((${n:-0} > 0)) || die "load run $run committed nothing"
	keys=$((keys + n))
	echo "$keys" >"$DIR/keys"
	echo "load run $run: ${secs}s, $n puts committed; chain at height $(height 1), $keys keys"
done
# Let the chain settle (the block after the last txs carries their app hash).
until [ "$(height 1)" = "$(sleep 2; height 1)" ]; do :; done
chain=$(height 1)
echo "chain: height $chain, $keys keys written (fresh keys, one per committed put) in $(printf %.0f "$(echo "$(now) - $t0" | bc)") s of load at $RATE tx/s"
echo "snapshots on node1:"
"$BIN" --home "$DIR/node1" snapshot list
((chain >= TARGET_HEIGHT && keys >= KEYS)) || die "chain at $chain with $keys keys, below $TARGET_HEIGHT / $KEYS"
if [ -n "${BUILD_ONLY:-}" ]; then
	echo "built; join it with: CHAIN_DIR=$DIR bash bench/statesync.sh"
	exit 0
fi

# join HOW [add-node flags]: add a node, register it for org1, start it and
# time it until caught up; then check its state against node1's.
join() {
	local how=$1 n id target start took a b
	"$BIN" testnet add-node --dir "$DIR" ${2:+"$2"} >/dev/null
	n=$(ls -d "$DIR"/node* | wc -l)
	id=$("$BIN" --home "$DIR/node$n" node id)
	"$BIN" --home "$DIR/node1" node register "$id" --org org1 >/dev/null
	until [ "$(height 1)" = "$(sleep 1; height 1)" ]; do :; done
	target=$(height 1)
	start=$(now) started=$start
	COMET_LOG_LEVEL=${3:-error} testnet/up.sh >/dev/null 2>&1 &
	until [ "$(curl -sf "$(rpc "$n")/status" | jq -r '.result.sync_info | select(.catching_up == false) | .latest_block_height' 2>/dev/null || true)" -ge "$target" ] 2>/dev/null; do
		sleep 0.1
	done
	took=$(echo "$(now) - $start" | bc)
	wait $! || true
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		a=$(state 1) b=$(state "$n")
		[ "$a" = "$b" ] && break
		sleep 1
	done
	[ "$a" = "$b" ] || die "$how: node$n state (height, app hash) $b, node1 $a"
	printf '%s: node%s caught up to height %s in %.1f s; node%s and node1 at height %s, app hash %s (equal)\n' \
		"$how" "$n" "$target" "$took" "$n" "${b% *}" "$(echo "${b#* }" | base64 -d | xxd -p -c 64 | tr a-f A-F)"
	eval "took_$4=$took"
}
join "state sync" --state-sync "${SS_COMET_LOG_LEVEL:-info}" ss
log=$DIR/node5/dstt.log
# Where the state sync's time went, from node5's log (CometBFT at info).
at() { # at first|last PATTERN: the time of the first or last line with PATTERN, in seconds after node5's start
	local line
	line=$(grep -a "$2" "$log" | if [ "$1" = first ]; then head -1; else tail -1; fi)
	[[ $line =~ ^.\[([0-9-]+)\|([0-9:.]+)\] ]] || return 1
	echo "$(date -d "${BASH_REMATCH[1]} ${BASH_REMATCH[2]}" +%s.%N) - $started" | bc
}
echo "node5 timeline, seconds after its start:"
for ev in "first Discovering snapshots" "first Offering snapshot to ABCI app" "first Fetching snapshot chunk" \
	"last Applied snapshot chunk" "first state sync: restoring a snapshot" "first state sync: snapshot restored" \
	"first Snapshot restored" "first Starting blocksync pool routine" "first Time to switch to consensus mode"; do
	t=$(at "${ev%% *}" "${ev#* }") && printf '  %6.2f  %s\n' "$t" "${ev#* }"
done
grep -a 'Offering snapshot to ABCI app\|state sync: restoring' "$log" | sed -E 's/^.\[[^]]*\] *//; s/ +/ /g; s/^/  /' | cut -c1-150 || true
join "replay" "" error rp
echo "ratio replay / state sync: $(echo "scale=1; $took_rp / $took_ss" | bc)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
