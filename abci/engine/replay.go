package engine

import (
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
)

// replayIndex remembers the replay ids (types.ReplayID: what the
// signatures cover) of txs committed inside the replay window, so the replay check is a map lookup instead of a Pebble seek (it
// runs in CheckTx, PrepareProposal, ProcessProposal and FinalizeBlock for
// every tx). A tx committed at height H has valid_until_height <= H +
// tx_window, so after that height any tx with the same body is expired
// anyway: older hashes can be forgotten without changing any answer. The
// index is derived from committed state and rebuilt from it on start.
type replayIndex struct {
	seen     map[[32]byte]struct{}
	byHeight map[uint64][][32]byte
	low      uint64 // lowest height still indexed
}

func newReplayIndex() *replayIndex {
	return &replayIndex{seen: map[[32]byte]struct{}{}, byHeight: map[uint64][][32]byte{}}
}

func (r *replayIndex) has(id [32]byte) bool {
	_, ok := r.seen[id]
	return ok
}

func (r *replayIndex) add(height uint64, id [32]byte) {
	r.seen[id] = struct{}{}
	r.byHeight[height] = append(r.byHeight[height], id)
}

// forget drops heights below keepFrom.
func (r *replayIndex) forget(keepFrom uint64) {
	for ; r.low < keepFrom; r.low++ {
		for _, k := range r.byHeight[r.low] {
			delete(r.seen, k)
		}
		delete(r.byHeight, r.low)
	}
}

// windowStart is the lowest height whose txs can still be replayed at the
// next block.
func (e *Engine) windowStart() uint64 {
	next := e.height + 1
	if next <= e.params.TxWindow {
		return 0
	}
	return next - e.params.TxWindow
}

// loadReplayIndex indexes the replay records committed inside the window.
func (e *Engine) loadReplayIndex() error {
	e.replay = newReplayIndex()
	from := e.windowStart()
	e.replay.low = from
	return e.store.Scan([]byte{nsReplay}, 0, func(ent storage.Entry) bool {
		if ent.Version.Height >= from && len(ent.Key) == 33 {
			e.replay.add(ent.Version.Height, [32]byte(ent.Key[1:]))
		}
		return true
	})
}

// checkReplay fails d if its signed body was committed before (or, in
// FinalizeBlock, earlier in the same block: st non-nil).
func (e *Engine) checkReplay(st *staged, d *decodedTx) {
	if st != nil {
		if _, seen := st.latest[string(replayKey(d.id))]; seen {
			d.fail(types.CodeReplay, "a tx with this signed body (replay id %X) was committed earlier in this block", d.id)
			return
		}
	}
	if e.replay.has(d.id) {
		d.fail(types.CodeReplay, "a tx with this signed body (replay id %X) was committed before; sign a new tx (a fresh nonce) to repeat it", d.id)
	}
}
