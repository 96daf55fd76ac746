#!/usr/bin/env bash
# restart.sh NODE: stop the node if it runs (SIGTERM), start it again and wait until its
# RPC answers and it has caught up with the others (block sync, then consensus; up to
# $WAIT, default 60s), then prints the status. A quorum must be up for it to catch up
# to the newest block; until then it waits with the others.
source "$(dirname "$0")/lib.sh"
need_bin
need_testnet
n=$(node_name "${1:-}")
stop_node "$n"
start_node "$n"
wait_rpc "$n"
# Wait until it has caught up (block sync done, peers connected).
"$BIN" testnet status --dir "$DIR" --wait "${WAIT:-60s}"
