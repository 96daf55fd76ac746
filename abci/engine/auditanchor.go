package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
)

// Audit export anchors. The consensus audit chain is never pruned by
// default. The governance op AuditAnchor records on the chain that an
// export holds the chain up to entry seq with hash hash (the engine
// checks the hash against its own entry), and may lower the audit floor's
// bar: entries below prune_below, never above the anchor, are then
// dropped on every validator at the Commit of its block.
//
// State: anchorKey -> JSON anchorRecord. It is hashed state (in the state
// hash, so the validators sign it with the app hash) and so is the floor:
// every replica answers the same lowest readable entry. The entries
// themselves are derived data (outside the state hash), so dropping them
// changes no app hash; the audit head still covers every entry, and the
// committed entry of the AuditAnchor tx itself, above the floor, records
// who pruned and where (audit.CheckPruned).
const nsAuditAnchor = 'A'

var anchorKey = []byte{nsAuditAnchor}

// anchorRecord is the recorded anchor and the audit floor.
type anchorRecord struct {
	Seq    uint64 `json:"seq,omitempty"`
	Hash   []byte `json:"hash,omitempty"`
	Height uint64 `json:"height,omitempty"` // the block that recorded the anchor
	// Floor is the lowest entry kept: every entry below it is pruned (0 or
	// 1: none).
	Floor uint64 `json:"floor,omitempty"`
}

// Rules of AuditAnchor refusals (types.Reason.rule).
const (
	ruleAuditAnchorUnknown  = "audit_anchor_unknown"  // op; subject: audit:SEQ (not committed, or pruned)
	ruleAuditAnchorMismatch = "audit_anchor_mismatch" // op; subject: audit:SEQ
	ruleAuditAnchorStale    = "audit_anchor_stale"    // op; subject: audit:SEQ; height: the recorded anchor's seq
	ruleAuditPruneAbove     = "audit_prune_above"     // op; subject: audit:PRUNE_BELOW; height: the anchor's seq
)

func init() {
	maps.Copy(ruleText, map[string]func(r *types.Reason) string{
		ruleAuditAnchorUnknown: func(r *types.Reason) string {
			return fmt.Sprintf("%s is not a committed, readable audit entry", r.Subject)
		},
		ruleAuditAnchorMismatch: func(r *types.Reason) string {
			return fmt.Sprintf("%s has another hash on this chain", r.Subject)
		},
		ruleAuditAnchorStale: func(r *types.Reason) string {
			return fmt.Sprintf("%s is below the recorded anchor, entry %d", r.Subject, r.Height)
		},
		ruleAuditPruneAbove: func(r *types.Reason) string {
			return fmt.Sprintf("pruning below %s is above the anchor, entry %d", r.Subject, r.Height)
		},
	})
}

// readAnchor reads the anchor record as st sees it (nil: committed state).
func (e *Engine) readAnchor(st *staged) (anchorRecord, error) {
	var rec anchorRecord
	ent, ok, err := e.readAt(st, anchorKey)
	if err != nil || !ok || ent.Deleted {
		return rec, err
	}
	if err := json.Unmarshal(ent.Value, &rec); err != nil {
		return rec, fmt.Errorf("abci: stored audit anchor: %w", err)
	}
	return rec, nil
}

// applyAuditAnchor checks op i of d, an AuditAnchor, and stages the new
// record. CheckTx calls it with st nil: the same check against committed
// state, nothing staged. A refusal fails d (AUDIT_ANCHOR, AUDIT_PRUNE).
func (e *Engine) applyAuditAnchor(st *staged, d *decodedTx, i int, ver storage.Version, op *types.AuditAnchor) error {
	rec, err := e.readAnchor(st)
	if err != nil {
		return err
	}
	next := rec
	if op.Seq > 0 {
		ok, err := e.checkAnchorEntry(d, i, rec, op)
		if err != nil || !ok {
			return err
		}
		next.Seq, next.Hash, next.Height = op.Seq, op.Hash, ver.Height
	}
	if op.PruneBelow > next.Seq {
		d.failAt(types.CodeAuditPrune, types.Reason{Rule: ruleAuditPruneAbove, Op: uint32(i) + 1, Subject: fmt.Sprintf("audit:%d", op.PruneBelow), Height: next.Seq},
			"op %d: pruning below audit entry %d is above the anchor, entry %d", i, op.PruneBelow, next.Seq)
		return nil
	}
	next.Floor = max(next.Floor, op.PruneBelow)
	if st == nil {
		return nil
	}
	return e.putJSON(st, anchorKey, next, ver)
}

// checkAnchorEntry checks that op's entry is committed (at or below the
// committed head: the block's own entries come after its txs), readable
// (at or above the floor), not below the recorded anchor, and has op's
// hash.
func (e *Engine) checkAnchorEntry(d *decodedTx, i int, rec anchorRecord, op *types.AuditAnchor) (bool, error) {
	subject := fmt.Sprintf("audit:%d", op.Seq)
	if op.Seq < rec.Seq {
		d.failAt(types.CodeAuditAnchor, types.Reason{Rule: ruleAuditAnchorStale, Op: uint32(i) + 1, Subject: subject, Height: rec.Seq},
			"op %d: audit entry %d is below the recorded anchor, entry %d", i, op.Seq, rec.Seq)
		return false, nil
	}
	if op.Seq > e.head.Seq || op.Seq < rec.Floor {
		d.failAt(types.CodeAuditAnchor, opReason(ruleAuditAnchorUnknown, i, subject),
			"op %d: audit entry %d is not committed and readable (committed entries %d to %d)", i, op.Seq, max(rec.Floor, 1), e.head.Seq)
		return false, nil
	}
	ent, ok, err := e.store.Get(auditKey(op.Seq), 0)
	if err != nil {
		return false, err
	}
	if !ok || ent.Deleted {
		return false, fmt.Errorf("abci: audit entry %d missing from state: %w", op.Seq, audit.ErrGap)
	}
	a, err := audit.Decode(ent.Value)
	if err != nil {
		return false, fmt.Errorf("abci: audit entry %d: %w", op.Seq, err)
	}
	if !bytes.Equal(a.Hash, op.Hash) {
		d.failAt(types.CodeAuditAnchor, opReason(ruleAuditAnchorMismatch, i, subject),
			"op %d: audit entry %d hashes to %X, the anchor says %X", i, op.Seq, a.Hash, op.Hash)
		return false, nil
	}
	return true, nil
}

// checkAuditAnchors is CheckTx's check of d's AuditAnchor ops against
// committed state: applyAuditAnchor without staging.
func (e *Engine) checkAuditAnchors(d *decodedTx) error {
	for i := range d.body.Ops {
		if op := d.body.Ops[i].GetAuditAnchor(); op != nil {
			if err := e.applyAuditAnchor(nil, d, i, storage.Version{}, op); err != nil || d.code != types.CodeOK {
				return err
			}
		}
	}
	return nil
}

// auditFloor is the lowest readable audit entry committed in store (1
// when nothing was pruned).
func auditFloor(store storage.Store) (uint64, error) {
	ent, ok, err := store.Get(anchorKey, 0)
	if err != nil || !ok || ent.Deleted {
		return 1, err
	}
	var rec anchorRecord
	if err := json.Unmarshal(ent.Value, &rec); err != nil {
		return 1, fmt.Errorf("abci: stored audit anchor: %w", err)
	}
	return max(rec.Floor, 1), nil
}

// dropPrunedAudit deletes the entries below the committed audit floor if
// any is still stored: after the Commit of a block that raised the floor,
// and at start (a crash between that Commit and the deletion). Only
// derived data goes: no state hash or app hash changes.
func (e *Engine) dropPrunedAudit() error {
	floor, err := auditFloor(e.store)
	if err != nil || floor <= 1 {
		return err
	}
	_, ok, err := e.store.Get(auditKey(floor-1), 0)
	if err != nil || !ok {
		return err
	}
	if err := e.store.DropRange(auditKey(0), auditKey(floor)); err != nil {
		return fmt.Errorf("abci: prune audit entries below %d: %w", floor, err)
	}
	return nil
}

// pruneAuditAfterCommit runs dropPrunedAudit when the committed block
// wrote the anchor record.
func (e *Engine) pruneAuditAfterCommit(st *staged) error {
	if _, ok := st.latest[string(anchorKey)]; !ok {
		return nil
	}
	return e.dropPrunedAudit()
}

// prunedAuditErr is ErrPruned for a read of audit entry seq below floor.
func prunedAuditErr(seq, floor uint64) error {
	return fmt.Errorf("%w: audit entry %d is pruned (below the audit export anchor's prune point); the lowest readable entry is seq %d", ErrPruned, seq, floor)
}

// snapshotAuditFloor is the audit floor recorded in the snapshot anchor,
// its anchor record (state the digest covers), 1 when there is none or it
// does not decode (then the digest check refuses the snapshot or the chain
// is checked from seq 1).
func snapshotAuditFloor(anchor storage.Entry, ok bool) uint64 {
	ent := anchor
	var rec anchorRecord
	if !ok || json.Unmarshal(ent.Value, &rec) != nil {
		return 1
	}
	return max(rec.Floor, 1)
}
