package storage

import (
	"fmt"

	"github.com/cockroachdb/pebble"
)

// RestoreSource yields a snapshot's writes to RestoreFrom a batch at a time;
// an empty batch (with a nil error) ends them. The store copies what it is
// given, so the source may reuse its buffers between calls. The store is
// locked while it calls the source: the source must not call the store.
type RestoreSource func() ([]Entry, error)

// oneBatch is the source of Restore: b's writes, then the end.
func oneBatch(ws []Entry) RestoreSource {
	done := false
	return func() ([]Entry, error) {
		if done {
			return nil, nil
		}
		done = true
		return ws, nil
	}
}

// eachRestoreBatch calls apply with each batch of next, checked for a
// restore to height, until next ends them; the first error ends it.
func eachRestoreBatch(height uint64, next RestoreSource, apply func([]Entry) error) error {
	for {
		ws, err := next()
		if err != nil || len(ws) == 0 {
			return err
		}
		b := Batch{Height: height, Writes: ws}
		if err := b.validateRestore(); err != nil {
			return err
		}
		if err := apply(ws); err != nil {
			return err
		}
	}
}

// Restore implements Store: RestoreFrom with b's writes as one batch.
func (s *PebbleStore) Restore(b Batch) error {
	return s.RestoreFrom(b.Height, b.AppHash, oneBatch(b.Writes))
}

// RestoreFrom implements Store. It clears what an interrupted restore left
// (one synced range deletion of every data key and the floor record), then
// applies each batch of next unsynced, and last the last-commit record and
// the floor in one synced batch: pebble's write-ahead log is one sequence,
// so that sync makes every batch before it durable too, and a crash before
// it leaves a store with no last commit (Last 0), which the next restore
// clears again.
func (s *PebbleStore) RestoreFrom(height uint64, appHash []byte, next RestoreSource) error {
	if !s.gate.enter() {
		return ErrClosed
	}
	defer s.gate.leave()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if last := s.last.Load(); last.committed {
		return fmt.Errorf("%w: last committed height %d", ErrNotEmpty, last.height)
	}
	if err := s.clearUncommitted(); err != nil {
		return fmt.Errorf("storage: restore height %d: clearing an interrupted restore: %w", height, err)
	}
	err := eachRestoreBatch(height, next, func(ws []Entry) error {
		if err := s.applyRestoreBatch(ws); err != nil {
			return fmt.Errorf("storage: restore height %d: %w", height, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	batch := s.db.NewBatch()
	defer batch.Close()
	if err := batch.Set(metaLastKey, encodeLast(height, appHash), nil); err != nil {
		return fmt.Errorf("storage: restore height %d: %w", height, err)
	}
	if err := batch.Set(metaFloorKey, encodeUint64(height), nil); err != nil {
		return fmt.Errorf("storage: restore height %d: %w", height, err)
	}
	if err := s.db.Apply(batch, pebble.Sync); err != nil {
		return fmt.Errorf("storage: restore height %d: %w", height, err)
	}
	s.floor.Store(height)
	s.last.Store(&lastCommit{height: height, appHash: cloneHash(appHash), committed: true})
	return nil
}

// applyRestoreBatch writes one batch of a restore, unsynced.
func (s *PebbleStore) applyRestoreBatch(ws []Entry) error {
	batch := s.db.NewBatch()
	defer batch.Close()
	if err := putWrites(batch, ws); err != nil {
		return err
	}
	return s.db.Apply(batch, pebble.NoSync)
}

// clearUncommitted deletes every data key and the floor record of a store
// never committed to (what a restore interrupted by a crash left), synced,
// and compacts the span so the disk space comes back. A store without data
// is left as it is.
func (s *PebbleStore) clearUncommitted() error {
	empty, err := s.holdsNoData()
	if err != nil || empty {
		return err
	}
	lower, upper := prefixBounds(nil)
	batch := s.db.NewBatch()
	defer batch.Close()
	if err := batch.DeleteRange(lower, upper, nil); err != nil {
		return err
	}
	if err := batch.Delete(metaFloorKey, nil); err != nil {
		return err
	}
	if err := s.db.Apply(batch, pebble.Sync); err != nil {
		return err
	}
	s.floor.Store(0)
	return s.db.Compact(lower, upper, false)
}

// errInterrupted: Commit to a store that was never committed to but holds
// data (a restore that did not finish).
var errInterrupted = fmt.Errorf("%w: it holds the data of a restore that did not finish (restore again)", ErrNotEmpty)

// refuseInterrupted returns errInterrupted if the store, never committed
// to, holds data.
func (s *PebbleStore) refuseInterrupted() error {
	empty, err := s.holdsNoData()
	if err != nil {
		return err
	}
	if !empty {
		return errInterrupted
	}
	return nil
}

// holdsNoData reports whether the store holds no data key.
func (s *PebbleStore) holdsNoData() (empty bool, err error) {
	lower, upper := prefixBounds(nil)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return false, err
	}
	defer closeIter(it, &err)
	return !it.First(), it.Error()
}

// Restore implements Store: RestoreFrom with b's writes as one batch.
func (s *MemoryStore) Restore(b Batch) error {
	return s.RestoreFrom(b.Height, b.AppHash, oneBatch(b.Writes))
}

// RestoreFrom implements Store. It holds the lock throughout: reads wait
// for the restore.
func (s *MemoryStore) RestoreFrom(height uint64, appHash []byte, next RestoreSource) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.committed {
		return fmt.Errorf("%w: last committed height %d", ErrNotEmpty, s.last)
	}
	s.keys, s.versions, s.floor = nil, make(map[string][]memVersion), 0
	err := eachRestoreBatch(height, next, func(ws []Entry) error {
		s.applyWrites(ws)
		return nil
	})
	if err != nil {
		return err
	}
	s.committed, s.last, s.appHash = true, height, append([]byte{}, appHash...)
	s.floor = height
	return nil
}

// Restore implements Store; it is failed with FaultCommit.
func (s *FaultyStore) Restore(b Batch) error {
	if err := s.fault(FaultCommit, "restore"); err != nil {
		return err
	}
	return s.inner.Restore(b)
}

// RestoreFrom implements Store. Each batch is one FaultCommit call: a fault
// stops the restore there, as a crash would, with the batches before it
// written and no last commit.
func (s *FaultyStore) RestoreFrom(height uint64, appHash []byte, next RestoreSource) error {
	return s.inner.RestoreFrom(height, appHash, func() ([]Entry, error) {
		ws, err := next()
		if err != nil || len(ws) == 0 {
			return ws, err
		}
		if err := s.fault(FaultCommit, "restore batch"); err != nil {
			return nil, err
		}
		return ws, nil
	})
}
