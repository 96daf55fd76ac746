package engine

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
)

// Retention. The chain params retain_heights and retain_seconds (genesis,
// then the governance op SetRetention) say how much history every
// validator keeps. At each Commit the engine computes the retention floor
// from the params, the block's height and the block times recorded in
// state, all of which every replica agrees on, and when the floor has
// moved by a quarter of the retained window it raises the store's floor to
// it and prunes towards it, a bounded step per Commit
// (storage.Store.PruneStep). Pruning changes no state hash or app hash: it only
// drops versions no read at or above the floor can see. The head record's
// history (the state hash and audit head of every height, which audit
// verification reads) is never pruned, nor is any audit entry (each is the
// latest and only value of its key).
//
// Block times: every block that writes anything records
//
//	nsBlockTime -> 8-byte big-endian Unix nanoseconds of the block's time
//
// one versioned key, so the version visible at height h holds the time of
// the last block at or below h that changed state. It is derived data (left
// out of the state hash, like the commit times).
const nsBlockTime = 'T'

var blockTimeKey = []byte{nsBlockTime}

// ErrPruned: a read asked for a height below the retained history. The
// adapter answers PRUNED; the message names the lowest readable height.
var ErrPruned = errors.New("abci: pruned")

// stageBlockTime records b's time when the block writes anything.
func (e *Engine) stageBlockTime(st *staged, b *Block) {
	if len(st.writes) == 0 || b.Time.IsZero() {
		return
	}
	nanos := binary.BigEndian.AppendUint64(nil, uint64(b.Time.UnixNano()))
	st.writes = append(st.writes, storage.Entry{Key: blockTimeKey, Value: nanos, Version: storage.Version{Height: b.Height}})
}

// applySetRetention is the governance op SetRetention: it rewrites the
// chain record's retention params (effective from the block's Commit).
func (e *Engine) applySetRetention(st *staged, ver storage.Version, op *types.SetRetention) error {
	return e.setParams(st, ver, func(p *types.Params) {
		p.RetainHeights, p.RetainSeconds = op.RetainHeights, op.RetainSeconds
	})
}

// setParams stages the chain record with its params changed by set: the
// governance ops that change chain params (SetRetention,
// SetSnapshotInterval), effective from the block's Commit (promoteParams).
func (e *Engine) setParams(st *staged, ver storage.Version, set func(*types.Params)) error {
	var rec chainRecord
	ok, err := e.readJSON(st, paramsKey, &rec)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("abci: no chain record")
	}
	set(&rec.Params)
	return e.putJSON(st, paramsKey, rec, ver)
}

// promoteParams makes the params the block wrote (SetRetention,
// SetSnapshotInterval) the committed ones.
func (e *Engine) promoteParams(st *staged) error {
	i, ok := st.latest[string(paramsKey)]
	if !ok {
		return nil
	}
	var rec chainRecord
	if err := json.Unmarshal(st.writes[i].Value, &rec); err != nil {
		return fmt.Errorf("abci: staged chain record: %w", err)
	}
	e.params = rec.Params
	return nil
}

// pruneStepKeys bounds the pruning work of one Commit: the keys one
// storage.Store.PruneStep visits.
const pruneStepKeys = 1024

// retain raises the retention floor after the Commit of height h (block
// time t) when it has moved far enough, and prunes a bounded step towards
// it: a pass over every key takes as many Commits as it needs, so no
// Commit holds the chain for long. Reads never see the difference: the
// floor rises at once, and each step deletes only versions no read at or
// above it can see.
func (e *Engine) retain(h uint64, t time.Time) error {
	if !e.params.Retains() && !e.pruning {
		return nil
	}
	prev, err := e.store.Floor()
	if err != nil {
		return err
	}
	floor := prev
	if e.params.Retains() {
		if floor, err = e.nextFloor(h, t, prev); err != nil {
			return err
		}
	}
	if floor == prev && !e.pruning {
		return nil
	}
	done, err := e.store.PruneStep(floor, pruneStepKeys, headKey)
	if err != nil {
		return fmt.Errorf("abci: prune below height %d: %w", floor, err)
	}
	e.pruning = !done
	return nil
}

// nextFloor is the floor after height h: the retention floor once it has
// moved by a quarter of the retained window (each pass walks every key),
// else prev.
func (e *Engine) nextFloor(h uint64, t time.Time, prev uint64) (uint64, error) {
	floor, err := e.retentionFloor(h, t, prev)
	if err != nil {
		return 0, err
	}
	if e.params.SnapshotInterval > 0 && e.lastDigest > 0 && e.lastDigest >= prev {
		// The state at the last snapshot height stays readable: its
		// snapshot is taken from it (snapshot.go). Before the first
		// snapshot height there is nothing to keep (a snapshot is taken
		// from the latest state), nor after the floor passed the last one
		// while snapshots were off (SetSnapshotInterval): holding the
		// floor there would keep nothing readable and pin it until the
		// next snapshot height.
		floor = min(floor, e.lastDigest)
	}
	if step := max((h-floor+1)/4, 1); floor < prev+step {
		return prev, nil
	}
	return floor, nil
}

// retentionFloor is the lowest height the params keep after height h
// (block time t); prev is the current floor, below which nothing is
// readable any more. With both rules set, a height is kept while either
// rule keeps it.
func (e *Engine) retentionFloor(h uint64, t time.Time, prev uint64) (uint64, error) {
	p := e.params
	floor := uint64(0)
	if p.RetainHeights > 0 && h >= p.RetainHeights {
		floor = h - p.RetainHeights + 1
	}
	if p.RetainSeconds > 0 {
		byTime, err := e.timeFloor(h, t.Add(-time.Duration(min(p.RetainSeconds, maxRetainSeconds))*time.Second), prev)
		if err != nil {
			return 0, err
		}
		if p.RetainHeights == 0 || byTime < floor {
			floor = byTime
		}
	}
	return max(floor, prev), nil
}

// maxRetainSeconds keeps the cutoff computation inside time.Duration.
const maxRetainSeconds = 1 << 32

// timeFloor is the lowest height in [max(prev,1), h] whose recorded block
// time is at or after cutoff (h when there is none): a binary search over
// the versions of the block-time record.
func (e *Engine) timeFloor(h uint64, cutoff time.Time, prev uint64) (uint64, error) {
	lo, hi := max(prev, 1), h
	for lo < hi {
		mid := lo + (hi-lo)/2
		ent, ok, err := e.store.Get(blockTimeKey, mid)
		if err != nil {
			return 0, err
		}
		if ok && len(ent.Value) == 8 && !time.Unix(0, int64(binary.BigEndian.Uint64(ent.Value))).Before(cutoff) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo, nil
}

// Floor is the lowest height reads at a height still answer (0: nothing
// was ever pruned).
func (r Reader) Floor() (uint64, error) { return r.e.store.Floor() }

// prunedErr turns storage.ErrPruned into ErrPruned naming the lowest
// readable height.
func (e *Engine) prunedErr(err error, height uint64) error {
	if !errors.Is(err, storage.ErrPruned) {
		return err
	}
	floor, ferr := e.store.Floor()
	if ferr != nil {
		return errors.Join(err, ferr)
	}
	return fmt.Errorf("%w: height %d is below the retained history; the lowest readable height is %d", ErrPruned, height, floor)
}
