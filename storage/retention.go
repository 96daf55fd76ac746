package storage

import (
	"bytes"
	"fmt"
	"math"

	"github.com/cockroachdb/pebble"
)

// pruneChunk is how many range deletions Prune applies per pebble batch.
const pruneChunk = 4096

// keepsHistory reports whether key starts with one of the keep prefixes.
func keepsHistory(key string, keep [][]byte) bool {
	for _, p := range keep {
		if len(key) >= len(p) && key[:len(p)] == string(p) {
			return true
		}
	}
	return false
}

// Prune implements Store. It first raises and durably records the floor,
// then deletes, for every key, the versions older than the one visible at
// keepFrom: one range deletion per key, applied in chunks. A crash part way
// leaves some old versions behind, which are unreadable (below the floor)
// and dropped by the next Prune. When it deleted anything it compacts the
// span of the deleted versions, so that pebble rewrites the files holding
// them and the disk space comes back (range deletions alone only hide
// data until a compaction happens to reach it).
func (s *PebbleStore) Prune(keepFrom uint64, keep ...[]byte) (err error) {
	if !s.gate.enter() {
		return ErrClosed
	}
	defer s.gate.leave()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if keepFrom <= s.floor.Load() {
		return nil
	}
	s.floor.Store(keepFrom)
	if err := s.db.Set(metaFloorKey, encodeUint64(keepFrom), pebble.Sync); err != nil {
		return fmt.Errorf("storage: prune to %d: %w", keepFrom, err)
	}
	first, last, err := s.deleteOld(keepFrom, keep)
	if err != nil {
		return fmt.Errorf("storage: prune to %d: %w", keepFrom, err)
	}
	if first == nil {
		return nil
	}
	if err := s.db.Compact(first, last, false); err != nil {
		return fmt.Errorf("storage: prune to %d: compact: %w", keepFrom, err)
	}
	return nil
}

// deleteOld writes the range deletions of Prune(keepFrom) and returns the
// span they cover (nil when there was nothing to delete).
func (s *PebbleStore) deleteOld(keepFrom uint64, keep [][]byte) (first, last []byte, err error) {
	kept := make([][]byte, len(keep))
	for i, p := range keep {
		kept[i] = appendEscapedPrefix(nil, p)
	}
	lower, upper := prefixBounds(nil)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, nil, err
	}
	defer closeIter(it, &err)
	batch := s.db.NewBatch()
	defer func() { _ = batch.Close() }()
	at := Version{Height: keepFrom, Index: math.MaxUint32}
	err = eachVisible(it, at, func(cur []byte) (bool, error) {
		end := append(cur[:len(cur)-1:len(cur)-1], keyEndByte)
		if hasAnyPrefix(cur, kept) {
			return it.SeekGE(end), nil
		}
		// The iterator is at the version visible at keepFrom: keep it and
		// drop everything older.
		if ok := it.Next(); !ok || !bytes.HasPrefix(it.Key(), cur) {
			return ok, nil
		}
		if first == nil {
			first = append([]byte(nil), it.Key()...)
		}
		last = append(last[:0], end...)
		if err := batch.DeleteRange(it.Key(), end, nil); err != nil {
			return false, err
		}
		if batch.Count() >= pruneChunk {
			if err := s.db.Apply(batch, pebble.NoSync); err != nil {
				return false, err
			}
			batch.Reset()
		}
		return it.SeekGE(end), nil
	})
	if err != nil {
		return nil, nil, err
	}
	if err := it.Error(); err != nil {
		return nil, nil, err
	}
	if err := s.db.Apply(batch, pebble.Sync); err != nil {
		return nil, nil, err
	}
	return first, last, nil
}

func hasAnyPrefix(b []byte, prefixes [][]byte) bool {
	for _, p := range prefixes {
		if bytes.HasPrefix(b, p) {
			return true
		}
	}
	return false
}

// Floor implements Store.
func (s *PebbleStore) Floor() (uint64, error) {
	if !s.gate.enter() {
		return 0, ErrClosed
	}
	defer s.gate.leave()
	return s.floor.Load(), nil
}

// Restore implements Store: the writes, the last-commit record and the
// floor in one synced pebble batch.
func (s *PebbleStore) Restore(b Batch) error {
	if !s.gate.enter() {
		return ErrClosed
	}
	defer s.gate.leave()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if last := s.last.Load(); last.committed {
		return fmt.Errorf("%w: last committed height %d", ErrNotEmpty, last.height)
	}
	if err := s.checkNoData(); err != nil {
		return err
	}
	if err := b.validateRestore(); err != nil {
		return err
	}
	batch := s.db.NewBatch()
	defer batch.Close()
	if err := putWrites(batch, b.Writes); err != nil {
		return fmt.Errorf("storage: restore height %d: %w", b.Height, err)
	}
	if err := batch.Set(metaLastKey, encodeLast(b.Height, b.AppHash), nil); err != nil {
		return fmt.Errorf("storage: restore height %d: %w", b.Height, err)
	}
	if err := batch.Set(metaFloorKey, encodeUint64(b.Height), nil); err != nil {
		return fmt.Errorf("storage: restore height %d: %w", b.Height, err)
	}
	if err := s.db.Apply(batch, pebble.Sync); err != nil {
		return fmt.Errorf("storage: restore height %d: %w", b.Height, err)
	}
	s.floor.Store(b.Height)
	s.last.Store(&lastCommit{height: b.Height, appHash: append([]byte{}, b.AppHash...), committed: true})
	return nil
}

// checkNoData returns ErrNotEmpty if the store holds any data key.
func (s *PebbleStore) checkNoData() (err error) {
	lower, upper := prefixBounds(nil)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return err
	}
	defer closeIter(it, &err)
	if it.First() {
		return fmt.Errorf("%w: it holds data", ErrNotEmpty)
	}
	return it.Error()
}
