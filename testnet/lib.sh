# Shared by the testnet scripts; source it, do not run it.
#
# Environment:
#   TESTNET_DIR      the testnet's directory (default: testnet/out in this repository)
#   DSTT_BIN         the dstt binary (default: bin/dstt in this repository; build it with
#                    go build -tags pebbledb -o bin/dstt ./cmd/dstt)
#   LOG_LEVEL        dstt's log level for started nodes (default info)
#   COMET_LOG_LEVEL  CometBFT's log level for started nodes (default error)
#
# Each node home DIR/nodeI holds dstt.pid while the node runs (the scripts start it) and
# dstt.log (its output, appended across restarts).

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${TESTNET_DIR:-$REPO/testnet/out}
BIN=${DSTT_BIN:-$REPO/bin/dstt}
LOG_LEVEL=${LOG_LEVEL:-info}
COMET_LOG_LEVEL=${COMET_LOG_LEVEL:-error}

die() { echo "$(basename "$0"): $*" >&2; exit 1; }

need_bin() {
	[[ -x $BIN ]] || die "no dstt binary at $BIN; build it: (cd $REPO && go build -tags pebbledb -o bin/dstt ./cmd/dstt), or set DSTT_BIN"
}

need_testnet() {
	[[ -f $DIR/testnet.json ]] || die "no testnet in $DIR; run testnet/up.sh (or dstt testnet init --dir $DIR)"
}

# nodes prints the node names (node1 node2 ...) in numeric order.
nodes() {
	local d
	for d in "$DIR"/node*/; do
		[[ -d $d ]] && basename "$d"
	done | sort -V
}

# node_name accepts "node2" or "2".
node_name() {
	local n=${1:?a node name (node1, node2, ... or 1, 2, ...)}
	[[ $n =~ ^[0-9]+$ ]] && n=node$n
	[[ -d $DIR/$n ]] || die "no node $n in $DIR (nodes: $(nodes | tr '\n' ' '))"
	echo "$n"
}

home_of() { echo "$DIR/$1"; }
pidfile_of() { echo "$DIR/$1/dstt.pid"; }
logfile_of() { echo "$DIR/$1/dstt.log"; }

# rpc_port_of reads the node's RPC port from its client.json ("node": "tcp://HOST:PORT").
rpc_port_of() {
	local port
	port=$(sed -n 's/.*"node": *"tcp:\/\/[^:"]*:\([0-9]*\)".*/\1/p' "$DIR/$1/config/client.json")
	[[ -n $port ]] || die "$1: no RPC address in $DIR/$1/config/client.json"
	echo "$port"
}

# pid_of prints the pid in the node's pid file if that process is alive; fails otherwise.
pid_of() {
	local f pid
	f=$(pidfile_of "$1")
	[[ -f $f ]] || return 1
	pid=$(<"$f")
	[[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
	echo "$pid"
}

# manifest_field NODE FIELD prints a node's string FIELD (rest, rest_metrics, rpc, ...)
# from testnet.json (written by dstt testnet init, one field a line); nothing if the
# manifest has no such field (one written before it existed).
manifest_field() {
	awk -v name="\"$1\"," -v field="\"$2\":" '
		$1 == "\"name\":" { in_node = ($2 == name) }
		in_node && $1 == field { v = $2; gsub(/[",]/, "", v); print v; exit }
	' "$DIR/testnet.json"
}

# rest_url_of prints the node's REST gateway URL (http://HOST:PORT), or nothing.
rest_url_of() {
	local a
	a=$(manifest_field "$1" rest)
	[[ -n $a ]] && echo "http://$a"
	return 0
}

# start_node starts a node in the background, in its own session (so a Ctrl-C in this
# terminal later does not reach it), and records its pid. The node's own REST and REST
# metrics addresses come from the manifest (as its "start" command shows), so the
# nodes of one host do not all try the defaults (8080, 26661).
start_node() {
	local n=$1 home pid rest metrics netns
	if pid=$(pid_of "$n"); then
		echo "$n: already running (pid $pid)"
		return 0
	fi
	home=$(home_of "$n")
	local args=(start --home "$home")
	rest=$(manifest_field "$n" rest)
	metrics=$(manifest_field "$n" rest_metrics)
	[[ -n $rest ]] && args+=(--rest-laddr "$rest")
	[[ -n $metrics ]] && args+=(--rest-metrics-laddr "$metrics")
	local run=("$BIN")
	netns=$(manifest_field "$n" netns)
	# In a namespace of its own (dstt testnet init --subnet): its RPC listens on its
	# address on the testnet's private bridge, so that this host reaches it.
	[[ -n $netns ]] && run=(ip netns exec "$netns" "$BIN") && args+=(--unsafe-public-rpc)
	echo "=== $(date -u +%FT%TZ) starting $n" >>"$(logfile_of "$n")"
	setsid "${run[@]}" "${args[@]}" --log-level "$LOG_LEVEL" --comet-log-level "$COMET_LOG_LEVEL" \
		</dev/null >>"$(logfile_of "$n")" 2>&1 &
	echo $! >"$(pidfile_of "$n")"
	echo "$n: started (pid $!), log $(logfile_of "$n")${rest:+, REST http://$rest}"
}

# wait_rpc waits until the node's RPC port accepts connections, failing early (with the
# log's tail) if the process exits. $2: timeout in seconds (default 60).
wait_rpc() {
	local n=$1 timeout=${2:-60} port deadline ip
	port=$(rpc_port_of "$n")
	ip=$(manifest_field "$n" ip) # its own address when it runs in a namespace
	deadline=$((SECONDS + timeout))
	until (exec 3<>"/dev/tcp/${ip:-127.0.0.1}/$port") 2>/dev/null; do
		if ! pid_of "$n" >/dev/null; then
			tail -n 20 "$(logfile_of "$n")" >&2 || true
			die "$n exited during start-up (log above, full log in $(logfile_of "$n"))"
		fi
		((SECONDS < deadline)) || die "$n: RPC on port $port not up after ${timeout}s"
		sleep 0.2
	done
}

# stop_node stops a node: SIGTERM (or $2), then SIGKILL if it is still there after 20s.
# It removes the pid file once the process is gone.
stop_node() {
	local n=$1 sig=${2:-TERM} pid i
	if ! pid=$(pid_of "$n"); then
		rm -f "$(pidfile_of "$n")"
		echo "$n: not running"
		return 0
	fi
	kill "-$sig" "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "$n: still running 20s after SIG$sig; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
	fi
	rm -f "$(pidfile_of "$n")"
	echo "$n: stopped (pid $pid, SIG$sig)"
}
