#!/usr/bin/env bash
# status.sh [-o json]: height, app hash, peers and process of every node (RPC /status and
# /net_info), and whether they agree on the block at the lowest common height.
source "$(dirname "$0")/lib.sh"
need_bin
need_testnet
exec "$BIN" testnet status --dir "$DIR" "$@"
