#!/usr/bin/env bash
# up.sh [INIT FLAGS...]: start every node of the testnet in $TESTNET_DIR (default
# testnet/out), first creating it with `dstt testnet init` if it does not exist; INIT
# FLAGS go to init (e.g. --validators 7 --transport libp2p), and so does
# $TESTNET_BASE_PORT as --base-port. Waits until every node's RPC
# answers and every node has peers and has caught up (up to $WAIT, default 60s), then
# prints the status. Nodes already running are left alone.
source "$(dirname "$0")/lib.sh"
need_bin
if [[ ! -f $DIR/testnet.json ]]; then
	"$BIN" testnet init --dir "$DIR" ${TESTNET_BASE_PORT:+--base-port "$TESTNET_BASE_PORT"} "$@"
	echo
elif (($# > 0)); then
	die "a testnet already exists in $DIR; init flags ($*) apply only to a new one (testnet/down.sh --purge first)"
fi
if grep -q '"subnet":' "$DIR/testnet.json"; then
	"$BIN" testnet netns up --dir "$DIR" # as root: each node's namespace, veth pair, the bridge
fi
for n in $(nodes); do
	start_node "$n"
done
for n in $(nodes); do
	wait_rpc "$n"
done
echo
# Ready: every node peered and out of block sync, so it takes txs.
"$BIN" testnet status --dir "$DIR" --wait "${WAIT:-60s}"
