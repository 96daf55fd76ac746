package engine

import (
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
)

// applySetSnapshotInterval is the governance op SetSnapshotInterval: it
// rewrites the chain record's snapshot_interval (types.ValidateTx bounds
// it). Like SetRetention's params it takes effect at the block's Commit
// (promoteParams), so the block that carries the op still picks its
// snapshot height, if any, by the interval before it, and every block
// after it by the new one (stageDigest): the first block that writes state
// at least the new interval after the last snapshot height is the next
// snapshot height, which may be the very next block when the new interval
// is shorter or snapshots were off; 0 takes no more snapshots. Every
// replica reads the interval and the last snapshot height from committed
// state, so they agree on the snapshot heights across any change.
//
// Retention (retention.go, nextFloor) keeps the last snapshot height
// readable only while snapshots are on and it still is: turning them off
// lets the state floor, and with it the retain height CometBFT is given
// (abci), follow the retention rule again, so nothing stays pinned; turning
// them on holds nothing until the next snapshot height (a snapshot is taken
// from the latest state), from which the floor stays at or below it.
func (e *Engine) applySetSnapshotInterval(st *staged, ver storage.Version, op *types.SetSnapshotInterval) error {
	return e.setParams(st, ver, func(p *types.Params) { p.SnapshotInterval = op.SnapshotInterval })
}
