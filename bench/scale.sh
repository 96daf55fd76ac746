#!/usr/bin/env bash
# bench/scale.sh — how the engine's cost grows with the state (docs/PERFORMANCE.md).
#
# Runs BenchmarkScale (abci/engine/scale_test.go) for each state size in
# SIZES and prints a markdown table: FinalizeBlock + Commit tx/s of
# 10,000-tx blocks overwriting random existing keys, the Pebble store's size
# on disk, the Go heap in use, and reads at random old heights (p50/p99).
# The validator-count side (1 and 4, node memory and disk) is in
# `make bench-compare`'s output.
#
# Knobs: SIZES ("10000 1000000"), BENCHTIME (3x), OUT (raw output file).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-10000 1000000}
BENCHTIME=${BENCHTIME:-3x}
OUT=${OUT:-${TMPDIR:-/tmp}/dstt-scale-$(date +%Y%m%d-%H%M%S).txt}
case " ${GOFLAGS:-} " in *-tags=pebbledb*) ;; *) export GOFLAGS="${GOFLAGS:-} -tags=pebbledb" ;; esac

echo "== $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), sizes: $SIZES" >&2
go test ./abci/engine -run '^$' -bench '^BenchmarkScale$' -benchtime "$BENCHTIME" -timeout 2h \
	-scale.keys "$(echo "$SIZES" | tr ' ' ',')" | tee "$OUT" >&2

echo "| keys in state | FinalizeBlock + Commit tx/s | disk MiB | Go heap MiB | read at an old height p50 / p99 µs |"
echo "|---|---|---|---|---|"
awk '/^BenchmarkScale\/keys=/ {
	split($1, a, "[=-]"); keys = a[2]
	for (i = 3; i < NF; i++) v[$(i + 1)] = $i
	printf "| %\047d | %\047.0f | %.1f | %.1f | %.1f / %.1f |\n", keys, v["tx/s"], v["disk-MiB"], v["heap-MiB"], v["old-read-p50-us"], v["old-read-p99-us"]
}' "$OUT"
echo "(load average after: $(cut -d' ' -f1-3 /proc/loadavg); raw output: $OUT)" >&2
