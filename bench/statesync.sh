#!/usr/bin/env bash
# bench/statesync.sh: how long a new node takes to catch up with a running
# 4-validator testnet by state sync and by replaying every block
# (docs/PERFORMANCE.md). It makes a testnet in a temporary directory whose
# genesis sets snapshot_interval, loads it with `dstt bench` puts for LOAD
# (default 60s), then adds a node with `testnet add-node --state-sync`, and
# one without, and times each from its start until its RPC reports it
# caught up at the height the chain had when it started. Run it with
# `make bench-statesync`; not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${DSTT_BIN:-$PWD/bin/dstt}
BASE=${BASE_PORT:-31200}
LOAD=${LOAD:-60s}
INTERVAL=${SNAPSHOT_INTERVAL:-100}
DIR=$(mktemp -d /tmp/dstt-statesync-XXXXXX)
export TESTNET_DIR=$DIR DSTT_BIN=$BIN
cleanup() { testnet/down.sh >/dev/null 2>&1 || true; rm -rf "$DIR"; }
trap cleanup EXIT
rpc() { echo "http://127.0.0.1:$((BASE + 10 * ($1 - 1) + 1))"; }
height() { curl -sf "$(rpc "$1")/status" | jq -r .result.sync_info.latest_block_height; }

"$BIN" testnet init --dir "$DIR" --base-port "$BASE" >/dev/null
for g in "$DIR"/node*/config/genesis.json; do
	jq ".app_state.params.snapshot_interval = $INTERVAL" "$g" >"$g.new" && mv "$g.new" "$g"
done
testnet/up.sh >/dev/null
"$BIN" --home "$DIR/node1" bench --target "http://127.0.0.1:$((BASE + 3))" --duration "$LOAD" --prefix org1/bench/ |
	grep -E '^(committed|load) '
echo "chain: height $(height 1), snapshots on node1: $(ls "$DIR/node1/data/snapshots" | tr '\n' ' ')"

join() {
	local how=$1 n id target start
	"$BIN" testnet add-node --dir "$DIR" ${2:+"$2"} >/dev/null
	n=$(ls -d "$DIR"/node* | wc -l)
	id=$("$BIN" --home "$DIR/node$n" node id)
	"$BIN" --home "$DIR/node1" node register "$id" --org org1 >/dev/null
	target=$(height 1)
	start=$(date +%s.%N)
	testnet/up.sh >/dev/null 2>&1 || true
	until [ "$(curl -sf "$(rpc "$n")/status" | jq -r '.result.sync_info | select(.catching_up == false) | .latest_block_height' 2>/dev/null || true)" -ge "$target" ] 2>/dev/null; do
		sleep 0.2
	done
	echo "$how: node$n caught up to height $target in $(echo "$(date +%s.%N) - $start" | bc) s (app hash $(curl -sf "$(rpc "$n")/status" | jq -r .result.sync_info.latest_app_hash | cut -c1-16), node1 $(curl -sf "$(rpc 1)/status" | jq -r .result.sync_info.latest_app_hash | cut -c1-16))"
}
join "state sync" --state-sync
join "replay"
