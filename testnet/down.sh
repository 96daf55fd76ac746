#!/usr/bin/env bash
# down.sh [--purge]: stop every node of the testnet (SIGTERM, SIGKILL after 20s) and
# remove the pid files. --purge then deletes the testnet's directory (chain, keys, logs).
source "$(dirname "$0")/lib.sh"
purge=false
case "${1:-}" in
"") ;;
--purge) purge=true ;;
*) die "usage: down.sh [--purge]" ;;
esac
[[ -d $DIR ]] || { echo "no testnet in $DIR"; exit 0; }
for n in $(nodes); do
	stop_node "$n" &
done
wait
if $purge; then
	if grep -q '"subnet":' "$DIR/testnet.json" 2>/dev/null; then
		"$BIN" testnet netns down --dir "$DIR"
	fi
	rm -rf "$DIR"
	echo "deleted $DIR"
fi
