#!/usr/bin/env bash
# bench/statesync.sh: how long a new node takes to catch up with a running
# 4-validator testnet by state sync and by replaying every block
# (docs/PERFORMANCE.md). It makes a testnet in a temporary directory whose
# genesis sets snapshot_interval (SNAPSHOT_INTERVAL, default 1000), builds
# its chain with `dstt bench` puts of fresh keys at a steady RATE (default
# 130 tx/s, open loop, through node1's gateway) until the chain is at
# TARGET_HEIGHT (default 50000) and KEYS keys (default 100000) have been
# written, and JOIN_GAP blocks (default half the snapshot interval) are
# above the newest snapshot, then adds a node with `testnet add-node --state-sync`, and one
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
TARGET_HEIGHT=${TARGET_HEIGHT:-50000}
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

# load HEIGHT KEYS PREFIX: bench runs of at most 60 s (each its own key
# prefix, so every committed put writes a new key) until the chain is at
# HEIGHT and $keys is at least KEYS; a run is cut to about the blocks still
# missing once the keys are on track (bps: blocks a second in the last run;
# the first run of a script probes for 5 s).
bps=
load() {
	local target=$1 want=$2 prefix=$3 run=0 h t secs n
	while h=$(height 1); ((h < target || keys < want)); do
		run=$((run + 1)) t=$(now) secs=60
		if [ -z "$bps" ]; then
			secs=5
		elif ((h < target && keys >= want * h / target)); then
			secs=$(echo "s = ($target - $h) / $bps + 2; if (s > 60) s = 60; s / 1" | bc)
		fi
		n=$("$BIN" --home "$DIR/node1" bench --target "http://127.0.0.1:$((BASE + 3))" --mode open --rate "$RATE" \
			--concurrency 512 --warmup 0s --duration "${secs}s" --prefix "org1/$prefix$run/" -o json 2>/dev/null | jq -r .committed) || true
		((${n:-0} > 0)) || die "load run $prefix$run committed nothing"
		keys=$((keys + n))
		echo "$keys" >"$DIR/keys"
		bps=$(echo "($(height 1) - $h) / ($(now) - $t)" | bc -l)
		echo "load run $prefix$run: ${secs}s, $n puts committed; chain at height $(height 1), $keys keys"
	done
	# Let the chain settle (the block after the last txs carries their app hash).
	until [ "$(height 1)" = "$(sleep 2; height 1)" ]; do :; done
}
newest_snapshot() { "$BIN" --home "$DIR/node1" snapshot list -o json | jq 'map(.height) | max // 0'; }

keys=$(cat "$DIR/keys" 2>/dev/null || echo 0) t0=$(now)
if [ -z "${CHAIN_DIR:-}" ]; then
	load "$TARGET_HEIGHT" "$KEYS" ss
	chain=$(height 1)
	echo "chain: height $chain, $keys keys written (fresh keys, one per committed put) in $(printf %.0f "$(echo "$(now) - $t0" | bc)") s of load at $RATE tx/s"
	((chain >= TARGET_HEIGHT && keys >= KEYS)) || die "chain at $chain with $keys keys, below $TARGET_HEIGHT / $KEYS"
fi
if [ -n "${BUILD_ONLY:-}" ]; then
	echo "built; join it with: CHAIN_DIR=$DIR bash bench/statesync.sh"
	exit 0
fi
# A node joins at a random moment, on average half a snapshot interval
# after the newest snapshot: JOIN_GAP (default SNAPSHOT_INTERVAL / 2) blocks
# are added above the newest snapshot unless the chain is already past that.
gap=${JOIN_GAP:-$((INTERVAL / 2))}
snap=$(newest_snapshot)
((snap > 0)) || die "node1 holds no snapshot"
(($(height 1) >= snap + gap)) || load $((snap + gap)) 0 "gap$(date +%s)-"
chain=$(height 1) snap=$(newest_snapshot)
echo "joining a chain at height $chain with $keys keys; newest snapshot $snap ($((chain - snap)) blocks below the tip)"
echo "snapshots on node1:"
"$BIN" --home "$DIR/node1" snapshot list

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
	"first Snapshot restored" "first Starting blocksync pool routine" "first Found local state with non-zero height" \
	"last Starting blocksync pool routine" "first Time to switch to consensus mode"; do
	t=$(at "${ev%% *}" "${ev#* }") && printf '  %6.2f  %s\n' "$t" "${ev#* }"
done
grep -a 'Offering snapshot to ABCI app\|state sync: restoring\|Time to switch to consensus mode' "$log" | sed -E 's/^.\[[^]]*\] *//; s/ +/ /g; s/^/  /' | cut -c1-150 || true
join "replay" "" error rp
echo "ratio replay / state sync: $(echo "scale=1; $took_rp / $took_ss" | bc)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
