package types

import "fmt"

// MaxSnapshotInterval bounds the chain param snapshot_interval (genesis and
// the governance op SetSnapshotInterval): a billion heights, more than 30
// years of one-second blocks. A larger interval would take no snapshot in
// the chain's life, and one near 2^64 would overflow the snapshot height
// arithmetic; 0 (no snapshots) is how to turn them off.
const MaxSnapshotInterval = 1_000_000_000

// checkSnapshotInterval is the one bound on a snapshot interval.
func checkSnapshotInterval(n uint64) (Code, string) {
	if n > MaxSnapshotInterval {
		return CodeInvalidOp, fmt.Sprintf("snapshot_interval=%d is above %d (0 turns snapshots off)", n, MaxSnapshotInterval)
	}
	return CodeOK, ""
}

// CheckSetSnapshotInterval is the stateless check of a SetSnapshotInterval
// op.
func CheckSetSnapshotInterval(op *SetSnapshotInterval) (Code, string) {
	if op == nil {
		return CodeInvalidOp, "empty set_snapshot_interval"
	}
	return checkSnapshotInterval(op.SnapshotInterval)
}
