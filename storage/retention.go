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
// keepFrom: one range deletion per key, applied in steps of pruneChunk keys
// (deleteOldStep). A crash part way leaves some old versions behind, which
// are unreadable (below the floor) and dropped by the next Prune. When it
// deleted anything it compacts the span of the deleted versions, so that
// pebble rewrites the files holding them and the disk space comes back
// (range deletions alone only hide data until a compaction happens to
// reach it).
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
	if err := s.raiseFloor(keepFrom); err != nil {
		return err
	}
	kept := escapedPrefixes(keep)
	var first, last []byte
	for next, _ := prefixBounds(nil); next != nil; {
		var f, l []byte
		if next, f, l, err = s.deleteOldStep(next, keepFrom, kept, pruneChunk); err != nil {
			return fmt.Errorf("storage: prune to %d: %w", keepFrom, err)
		}
		if first == nil {
			first = f
		}
		if l != nil {
			last = l
		}
	}
	if first == nil {
		return nil
	}
	if err := s.db.Compact(first, last, false); err != nil {
		return fmt.Errorf("storage: prune to %d: compact: %w", keepFrom, err)
	}
	return nil
}

// raiseFloor records keepFrom, above the floor, as the floor (synced), and
// publishes it before anything below it is deleted.
func (s *PebbleStore) raiseFloor(keepFrom uint64) error {
	s.floor.Store(keepFrom)
	if err := s.db.Set(metaFloorKey, encodeUint64(keepFrom), pebble.Sync); err != nil {
		return fmt.Errorf("storage: prune to %d: %w", keepFrom, err)
	}
	return nil
}

func escapedPrefixes(keep [][]byte) [][]byte {
	kept := make([][]byte, len(keep))
	for i, p := range keep {
		kept[i] = appendEscapedPrefix(nil, p)
	}
	return kept
}

// deleteOldStep writes the deletions of Prune(keepFrom) for at most limit
// keys (every key when limit <= 0), from the data key from on, in one batch
// with a fresh iterator, and returns the data key the next step starts at
// (nil at the end) and the span the deletions cover (first nil when there
// were none).
func (s *PebbleStore) deleteOldStep(from []byte, keepFrom uint64, kept [][]byte, limit int) (next, first, last []byte, err error) {
	_, upper := prefixBounds(nil)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: from, UpperBound: upper})
	if err != nil {
		return nil, nil, nil, err
	}
	defer closeIter(it, &err)
	batch := s.db.NewBatch()
	defer func() { _ = batch.Close() }()
	at := Version{Height: keepFrom, Index: math.MaxUint32}
	keys := 0
	err = eachVisible(it, at, func(cur []byte) (bool, error) {
		if limit > 0 && keys == limit {
			next = append([]byte(nil), cur...)
			return false, nil
		}
		keys++
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
		return deleteVersions(batch, it, cur, end)
	})
	if err == nil {
		err = it.Error()
	}
	if err == nil {
		err = s.db.Apply(batch, pebble.NoSync)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	return next, first, last, nil
}

// pointDeletes is how many old versions of one key deleteVersions deletes
// one by one before it deletes the rest with one range deletion. Point
// deletions keep iterators fast; many range deletions in a memtable slow
// every new iterator and seek (pebble fragments them again), so a pass of
// one range deletion per key grew from 30 ms to 750 ms a step.
const pointDeletes = 64

// deleteVersions deletes, in batch, the version it stands at and every
// older one of the key whose versions start with cur (end: just after
// them), and moves it past the key.
func deleteVersions(batch *pebble.Batch, it *pebble.Iterator, cur, end []byte) (bool, error) {
	for range pointDeletes {
		if err := batch.Delete(it.Key(), nil); err != nil {
			return false, err
		}
		if ok := it.Next(); !ok || !bytes.HasPrefix(it.Key(), cur) {
			return ok, nil
		}
	}
	if err := batch.DeleteRange(it.Key(), end, nil); err != nil {
		return false, err
	}
	return it.SeekGE(end), nil
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
