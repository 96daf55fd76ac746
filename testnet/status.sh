#!/usr/bin/env bash
# status.sh [-o json] [--wait D] [--stall-after D]: height, app hash, peers and process of
# every node (RPC /status and /net_info), whether they agree on the block at the lowest
# common height, and the quorum line (voting power online of the validator set, the
# latest height and its age). Exits 1 on a fork or a halted chain (dstt testnet status --help).
source "$(dirname "$0")/lib.sh"
need_bin
need_testnet
exec "$BIN" testnet status --dir "$DIR" "$@"
