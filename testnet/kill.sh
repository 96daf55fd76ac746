#!/usr/bin/env bash
# kill.sh NODE [SIGNAL]: crash a node: SIGKILL by default (no clean shutdown), or the
# given signal (TERM for a clean stop). NODE is node2 or 2. The pid file stays after a
# SIGKILL, so status shows the node as dead; restart.sh brings it back.
source "$(dirname "$0")/lib.sh"
need_testnet
n=$(node_name "${1:-}")
sig=${2:-KILL}
pid=$(pid_of "$n") || die "$n is not running"
kill "-$sig" "$pid"
while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
[[ $sig == KILL || $sig == 9 ]] || rm -f "$(pidfile_of "$n")"
echo "$n: killed (pid $pid, SIG$sig)"
