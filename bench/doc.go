// Package bench measures dstt (and, for comparison, CometBFT's example
// kvstore) under load: Run drives a Workload open-loop (requests start at
// a target rate, latency counted from when each was due) or closed-loop (a
// fixed number of workers), and reports committed tx/s, the abort rate
// and the commit-latency distribution of the measured window (warmup
// excluded). DsttWorkload sends signed txs (blind puts, read-modify-writes
// with version checks, hot-key contention) through the Go SDK, over the
// REST gateway or CometBFT RPC. `dstt bench` is its command line;
// bench/kvstore and bench/compare.sh are the side-by-side harness (see
// docs/PERFORMANCE.md).
package bench
