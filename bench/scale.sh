#!/usr/bin/env bash
# bench/scale.sh — how dstt's cost grows with the state and the validator
# count (make bench-scale; docs/PERFORMANCE.md, "How cost grows").
#
# Three parts (PARTS), their raw results in $OUT, then the data files in
# $DATA (docs/perf/*.tsv) and, from them, the plots (docs/perf/*.png) and
# the tables in docs/PERFORMANCE.md (go run ./bench/plot):
#   engine      BenchmarkScale (abci/engine/scale_test.go) for each state in
#               SIZES and VERSIONS: the state loaded as storage batches in the
#               engine's layout, then FinalizeBlock + Commit tx/s of 10,000-tx
#               blocks overwriting random keys, disk, Go heap, RSS, and reads
#               of random keys at random old heights (p50/p99);
#   node        a real one-validator dstt node (bench/compare.sh, dstt only)
#               whose home was pre-loaded with each of NODE_SIZES keys
#               (TestScalePreload: the state restored at the node's height, as
#               state sync does): committed tx/s under load (its puts, to
#               bench/scale/put/1, 2, ..., overwrite the pre-loaded keys),
#               light-load commit latency, RSS and data size;
#   validators  bench/compare.sh for each count in VALIDATORS (SYSTEMS):
#               committed tx/s, light-load latency, node1's RSS and data.
#
# Knobs (environment; the defaults are the sizes of the performance issue):
#   SIZES        "10000 1000000 10000000" keys, each written once
#   VERSIONS     "100000x100": KEYSxN, every key written N times (10M versions)
#   BENCHTIME    measured blocks per engine case (5x)
#   NODE_SIZES   "10000 10000000" keys pre-loaded into the node
#   VALIDATORS   "1 4 7";  SYSTEMS "dstt kvstore" (the tuned kvstore for reference)
#   NODE_PROFILE 1: CPU profiles of the loaded node (compare.sh's PROFILE) in
#                node-KEYS/; the engine's are in engine-CASE-cpu.pprof
#   PARTS        "engine node validators"
#   SMOKE=1      small sizes and 5 s runs: checks the whole pipeline in minutes
#   NOTE         a remark on the run printed with its load (e.g. "other jobs
#                shared the machine")
#   OUT          raw results (${TMPDIR:-/tmp}/dstt-scale-DATE);  DATA (docs/perf)
#   DURATION, WARMUP, DSTT_PRESIGN, BASE_PORT, ...: bench/compare.sh's knobs
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${SMOKE:-0}" = 1 ]; then
	: "${SIZES:=1000 10000}" "${VERSIONS:=1000x10}" "${BENCHTIME:=2x}" "${NODE_SIZES:=1000 10000}"
	: "${VALIDATORS:=1 4}" "${DURATION:=5s}" "${WARMUP:=2s}" "${DSTT_PRESIGN:=50000}"
	export DURATION WARMUP DSTT_PRESIGN
fi
SIZES=${SIZES:-10000 1000000 10000000}
VERSIONS=${VERSIONS:-100000x100}
BENCHTIME=${BENCHTIME:-5x}
NODE_SIZES=${NODE_SIZES:-10000 10000000}
VALIDATORS=${VALIDATORS:-1 4 7}
SYSTEMS=${SYSTEMS:-dstt kvstore}
NODE_PROFILE=${NODE_PROFILE:-1}
PARTS=${PARTS:-engine node validators}
OUT=${OUT:-${TMPDIR:-/tmp}/dstt-scale-$(date +%Y%m%d-%H%M%S)}
DATA=${DATA:-docs/perf}
case " ${GOFLAGS:-} " in *-tags=pebbledb*) ;; *) export GOFLAGS="${GOFLAGS:-} -tags=pebbledb" ;; esac

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
log() { echo "== $(date -u +%T) $*" >&2; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

{
	echo "command	${SCALE_COMMAND:-make bench-scale}"
	echo "date	$(date -u '+%F %H:%M UTC')"
	echo "commit	$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (modified)')"
	echo "machine	$(nproc) vCPU $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM, $(go env GOVERSION)"
	echo "load before	$(load)"
	if [ -n "${NOTE:-}" ]; then echo "note	$NOTE"; fi
	echo "sizes	engine: $SIZES, $VERSIONS; node: $NODE_SIZES; validators: $VALIDATORS ($SYSTEMS)"
} > "$OUT/env.tsv"
cat "$OUT/env.tsv" >&2

log "building the engine test binary"
go test -c -o "$OUT/engine.test" ./abci/engine

for part in $PARTS; do
	case $part in
	engine)
		: > "$OUT/engine.txt"
		for c in $SIZES $VERSIONS; do # one process per case: its RSS is its own
			log "engine: BenchmarkScale, state $c, $BENCHTIME"
			"$OUT/engine.test" -test.run '^$' -test.bench '^BenchmarkScale$' -test.benchtime "$BENCHTIME" \
				-test.timeout 3h -test.cpuprofile "$OUT/engine-$c-cpu.pprof" -scale.keys "$c" | tee -a "$OUT/engine.txt" >&2
		done
		;;
	node)
		for n in $NODE_SIZES; do
			log "node: one validator pre-loaded with $n keys"
			printf '#!/bin/sh\nexec %q -test.run %q -scale.store "$1/data/app" -scale.preload %d -scale.prefix %q\n' \
				"$OUT/engine.test" '^TestScalePreload$' "$n" "bench/scale/put/" > "$OUT/preload.sh"
			chmod +x "$OUT/preload.sh"
			VALIDATORS=1 SYSTEMS=dstt ENGINE=0 PROFILE=$NODE_PROFILE DSTT_PREPARE="$OUT/preload.sh" \
				DSTT_BENCH_ARGS="--prefix bench/scale/" OUT="$OUT/node-$n" \
				bash bench/compare.sh >&2
		done
		;;
	validators)
		log "validators: $VALIDATORS ($SYSTEMS)"
		VALIDATORS="$VALIDATORS" SYSTEMS="$SYSTEMS" ENGINE=0 OUT="$OUT/validators" bash bench/compare.sh >&2
		;;
	*) echo "PARTS: engine, node, validators; not $part" >&2; exit 2 ;;
	esac
done

echo "load after	$(load)" >> "$OUT/env.tsv"
rm -f "$OUT/engine.test" "$OUT/preload.sh"
log "data files into $DATA, then plots and tables"
go run ./bench/plot collect -in "$OUT" -data "$DATA"
go run ./bench/plot render -data "$DATA" -doc docs/PERFORMANCE.md
log "raw results in $OUT"
