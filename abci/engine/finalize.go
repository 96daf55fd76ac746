package engine

import (
	"errors"
	"fmt"

	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
)

// FinalizeBlock executes a decided block against a staged batch: txs in
// block order, each all-or-nothing. Nothing is persisted until Commit.
// A Go error means the node cannot go on (storage failure, wrong height).
func (e *Engine) FinalizeBlock(b Block) (*BlockResult, error) {
	if !e.Initialised() {
		return nil, ErrNotInitialised
	}
	if e.staged != nil {
		return nil, ErrStaged
	}
	if b.Height != e.height+1 {
		return nil, fmt.Errorf("%w: got %d, last committed %d", ErrHeight, b.Height, e.height)
	}
	st := newStaged(&b)
	res, err := e.execBlock(st, &b)
	if err != nil {
		// The node halts; the block's policy goes back to the committed
		// one so that nothing of the block stays behind.
		if uerr := e.unstagePolicy(st, 0); uerr != nil {
			return nil, errors.Join(err, uerr)
		}
		return nil, err
	}
	e.stageBlockTime(st, &b)
	e.staged = st
	return res, nil
}

// stagedWritesPerTx is what an accepted single-op tx stages: its write, its
// result record, its replay record and its audit entry. Sizing the staged
// block for it up front spares the growth of its slice and map.
const stagedWritesPerTx = 4

func newStaged(b *Block) *staged {
	n := stagedWritesPerTx * len(b.Txs)
	return &staged{height: b.Height, time: b.Time, latest: make(map[string]int, n), writes: make([]storage.Entry, 0, n)}
}

// execBlock executes b against st.
func (e *Engine) execBlock(st *staged, b *Block) (*BlockResult, error) {
	evidence, err := e.punish(st, b)
	if err != nil {
		return nil, fmt.Errorf("abci: evidence: %w", err)
	}
	if err := e.sweepGtxDeadlines(st, b); err != nil {
		return nil, fmt.Errorf("abci: gtx deadlines: %w", err)
	}
	ds := make([]*decodedTx, len(b.Txs))
	for i, tx := range b.Txs {
		ds[i] = e.decode(tx)
	}
	// Txs execute in order as their signatures' verdicts come in.
	sb := e.startVerify(ds)
	res := &BlockResult{Txs: make([]Outcome, len(b.Txs))}
	for i, d := range ds {
		e.settle(sb, i, d)
		out, err := e.execTx(st, uint32(i), d)
		if err != nil {
			return nil, err
		}
		res.Txs[i] = out
	}
	if err := e.stageDigest(st, b.Height); err != nil {
		return nil, fmt.Errorf("abci: state digest: %w", err)
	}
	st.appHash = e.stageAudit(st, b, ds, res, evidence)
	res.AppHash = st.appHash
	res.ValidatorUpdates = st.valUpdates
	return res, nil
}

// read returns the newest value of a storage key as the block sees it:
// staged writes first, then committed state.
func (e *Engine) read(st *staged, key []byte) (storage.Entry, bool, error) {
	if i, ok := st.latest[string(key)]; ok {
		return st.writes[i], true, nil
	}
	return e.store.Get(key, 0)
}

func (st *staged) put(ent storage.Entry) {
	st.latest[string(ent.Key)] = len(st.writes)
	st.writes = append(st.writes, ent)
}

// pendingWrite is one buffered user write of the tx being executed.
type pendingWrite struct {
	key     string
	value   []byte
	deleted bool
}

// execTx runs one tx at index idx of the staged block.
func (e *Engine) execTx(st *staged, idx uint32, d *decodedTx) (Outcome, error) {
	d.index = idx
	if d.code == types.CodeOK {
		e.resolveSigners(st, d)
	}
	out := Outcome{Hash: d.hash, Signer: d.signer}
	if d.code == types.CodeOK {
		e.checkWindow(d, st.height)
	}
	if d.code == types.CodeOK {
		e.checkReplay(st, d)
	}
	// Only an authentic tx leaves a record, and only the first time: a
	// replay must not overwrite the original's result.
	if !d.verified || d.code == types.CodeReplay {
		out.Code, out.Log = d.code, d.log
		rec := types.TxResult{Height: st.height, TxIndex: idx, Code: uint32(d.code), Signer: d.signer}
		var err error
		if out.Result, err = rec.Marshal(); err != nil {
			return out, fmt.Errorf("abci: encode tx result: %w", err)
		}
		return out, nil
	}
	if d.code == types.CodeOK {
		e.authorize(st, d)
	}
	if d.code == types.CodeOK {
		if err := e.authorizeGov(st, d); err != nil {
			return out, fmt.Errorf("abci: governance check: %w", err)
		}
	}
	var writes []pendingWrite
	if d.code == types.CodeOK {
		var err error
		writes, err = e.applyOps(st, d)
		if err != nil {
			return out, err
		}
	}
	ver := storage.Version{Height: st.height, Index: idx}
	if d.code == types.CodeOK {
		out.Writes = make([]types.Write, 0, len(writes))
		for _, w := range writes {
			st.put(storage.Entry{Key: userKey(w.key), Value: w.value, Deleted: w.deleted, Version: ver})
			out.Writes = append(out.Writes, types.Write{
				Key:     w.key,
				Version: types.Version{Height: ver.Height, TxIndex: ver.Index},
				Deleted: w.deleted,
			})
		}
	}
	out.Code, out.Log, out.Reason = d.code, d.log, d.reason
	// Codes and data only: the words stay in out.Log, outside every hash.
	rec := types.TxResult{
		Height: st.height, TxIndex: idx, Code: uint32(d.code), Reason: d.reason,
		Writes: out.Writes, Signer: d.signer,
	}
	val, err := rec.Marshal()
	if err != nil {
		return out, fmt.Errorf("abci: encode tx result: %w", err)
	}
	out.Result = val
	st.put(storage.Entry{Key: txKey(d.hash), Value: val, Version: ver})
	st.put(storage.Entry{Key: replayKey(d.id), Value: d.hash, Version: ver})
	st.replayIDs = append(st.replayIDs, d.id)
	return out, nil
}

// applyOps evaluates a tx's ops. Checks compare against the state before
// the tx (earlier txs of the block included); puts and deletes are buffered
// and applied only if every check passes. A key written twice keeps the last
// write. On a failed check d is marked CONFLICT and no writes come back.
func (e *Engine) applyOps(st *staged, d *decodedTx) ([]pendingWrite, error) {
	writes := make([]pendingWrite, 0, len(d.body.Ops))
	pos := make(map[string]int, len(d.body.Ops))
	var policyOps []int
	buffer := func(w pendingWrite) {
		if i, ok := pos[w.key]; ok {
			writes[i] = w
			return
		}
		pos[w.key] = len(writes)
		writes = append(writes, w)
	}
	for i := range d.body.Ops {
		switch o := d.body.Ops[i].Sum.(type) {
		case *types.Op_Put:
			buffer(pendingWrite{key: o.Put.Key, value: o.Put.Value})
		case *types.Op_Delete:
			ent, ok, err := e.read(st, userKey(o.Delete.Key))
			if err != nil {
				return nil, fmt.Errorf("abci: read %q: %w", o.Delete.Key, err)
			}
			_, buffered := pos[o.Delete.Key]
			if (ok && !ent.Deleted) || buffered {
				buffer(pendingWrite{key: o.Delete.Key, deleted: true})
			}
		case *types.Op_Grant, *types.Op_Revoke, *types.Op_Policy,
			*types.Op_AddValidator, *types.Op_RemoveValidator, *types.Op_AddOrg, *types.Op_RemoveOrg,
			*types.Op_SetRetention, *types.Op_AuditAnchor, *types.Op_SetSnapshotInterval,
			*types.Op_RegisterParticipant, *types.Op_RemoveParticipant, *types.Op_BeginGtx, *types.Op_GtxAnswer, *types.Op_GtxDeadline,
			*types.Op_RegisterNode, *types.Op_RemoveNode:
			policyOps = append(policyOps, i)
		case *types.Op_RotateKey:
			why, err := e.checkRotation(st, d, o.RotateKey.NewPubKey)
			if err != nil {
				return nil, fmt.Errorf("abci: rotation check: %w", err)
			}
			if why != "" {
				d.failAt(types.CodeInvalidOp, opReason(ruleKeyTaken, i, types.Address(o.RotateKey.NewPubKey)), "op %d: %s", i, why)
				return nil, nil
			}
			policyOps = append(policyOps, i)
		case *types.Op_Check:
			ent, ok, err := e.read(st, userKey(o.Check.Key))
			if err != nil {
				return nil, fmt.Errorf("abci: read %q: %w", o.Check.Key, err)
			}
			var have types.Version
			if ok && !ent.Deleted {
				have = types.Version{Height: ent.Version.Height, TxIndex: ent.Version.Index}
			}
			if have != o.Check.Version {
				r := opReason(ruleVersionMismatch, i, o.Check.Key)
				want := o.Check.Version
				r.Expected, r.Actual = &want, &have
				d.failAt(types.CodeConflict, r, "op %d: key %q is at version %s, the tx expected %s",
					i, o.Check.Key, have.Text(), o.Check.Version.Text())
				return nil, nil
			}
		}
	}
	if err := e.applyPolicyOps(st, d, policyOps); err != nil {
		return nil, err
	}
	if d.code != types.CodeOK {
		return nil, nil
	}
	for _, w := range d.gtxWrites { // a gtx the tx committed
		buffer(w)
	}
	return writes, nil
}

// applyPolicyOps changes the policy (effective from the next tx) and stages
// the stored lines. Adding a line that exists or removing one that does not
// changes nothing.
func (e *Engine) applyPolicyOps(st *staged, d *decodedTx, idx []int) error {
	if len(idx) == 0 {
		return nil
	}
	u := st.mark()
	ver := storage.Version{Height: st.height, Index: d.index}
	for _, i := range idx {
		var key []byte
		var c policyChange
		switch o := d.body.Ops[i].Sum.(type) {
		case *types.Op_RotateKey:
			if err := e.rotateKey(st, d, o.RotateKey.NewPubKey, u); err != nil {
				return fmt.Errorf("abci: rotate key: %w", err)
			}
			continue
		case *types.Op_AddValidator, *types.Op_RemoveValidator, *types.Op_AddOrg, *types.Op_RemoveOrg,
			*types.Op_SetRetention, *types.Op_AuditAnchor, *types.Op_SetSnapshotInterval,
			*types.Op_RegisterNode, *types.Op_RemoveNode:
			if err := e.applyGovOp(st, d, i, ver); err != nil {
				return fmt.Errorf("abci: governance op: %w", err)
			}
			if d.code != types.CodeOK {
				return u.rollback(e)
			}
			continue
		case *types.Op_RegisterParticipant, *types.Op_RemoveParticipant, *types.Op_BeginGtx, *types.Op_GtxAnswer, *types.Op_GtxDeadline:
			if err := e.applyGtxOp(st, d, i, u); err != nil {
				return fmt.Errorf("abci: gtx op: %w", err)
			}
			if d.code != types.CodeOK {
				return u.rollback(e)
			}
			continue
		case *types.Op_Grant:
			g := grantOf(o.Grant.Subject, o.Grant.Role, o.Grant.Domain)
			c, key = addGrant(g), grantKey(g)
		case *types.Op_Revoke:
			g := grantOf(o.Revoke.Subject, o.Revoke.Role, o.Revoke.Domain)
			c, key = removeGrant(g), grantKey(g)
		case *types.Op_Policy:
			r := ruleOf(o.Policy)
			c, key = addRule(r), ruleKey(r)
			if o.Policy.Remove {
				c = removeRule(r)
			}
		}
		// Validated in decode: the policy refuses it only on a fault.
		changed, err := e.stagePolicy(st, c)
		if err != nil {
			return fmt.Errorf("abci: policy op %d: %w", i, err)
		}
		if changed {
			st.put(storage.Entry{Key: key, Value: []byte{}, Deleted: c.remove, Version: ver})
		}
	}
	return nil
}

// Commit persists the staged block atomically (state, tx records, height
// and app hash in one synced batch).
func (e *Engine) Commit() error {
	st := e.staged
	if st == nil {
		return ErrNothingStaged
	}
	if err := e.store.Commit(storage.Batch{Height: st.height, AppHash: st.appHash, Writes: st.writes}); err != nil {
		return fmt.Errorf("abci: commit height %d: %w", st.height, err)
	}
	if err := e.promote(st); err != nil {
		return fmt.Errorf("abci: commit height %d: %w", st.height, err)
	}
	e.height, e.appHash, e.staged = st.height, st.appHash, nil
	for _, id := range st.replayIDs {
		e.replay.add(st.height, id)
	}
	e.replay.forget(e.windowStart())
	e.stateHash, e.head, e.headHeight = st.stateHash, st.head, st.headHeight
	if err := e.promoteParams(st); err != nil {
		return err
	}
	e.promoteGtx(st)
	if st.digest != nil {
		e.lastDigest = st.height
	}
	if err := e.pruneAuditAfterCommit(st); err != nil {
		return err
	}
	return e.retain(st.height, st.time)
}
