#!/usr/bin/env bash
# logs.sh NODE [-f] [-n LINES]: print the end of a node's log (default 50 lines); -f
# keeps following it.
source "$(dirname "$0")/lib.sh"
need_testnet
n=$(node_name "${1:-}")
shift
follow=() lines=50
while (($# > 0)); do
	case $1 in
	-f) follow=(-F) ;;
	-n) lines=${2:?-n needs a number}; shift ;;
	*) die "usage: logs.sh NODE [-f] [-n LINES]" ;;
	esac
	shift
done
f=$(logfile_of "$n")
[[ -f $f ]] || die "$n has no log yet ($f)"
exec tail -n "$lines" "${follow[@]}" "$f"
