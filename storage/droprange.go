package storage

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble"
)

// DropRange implements Store: one range deletion over the data keys of
// [start, end), synced; the span is then compacted in the background
// (Close waits for it) so the disk space comes back without holding up
// the caller (a Commit).
func (s *PebbleStore) DropRange(start, end []byte) error {
	if bytes.Compare(start, end) >= 0 {
		return nil
	}
	if !s.gate.enter() {
		return ErrClosed
	}
	defer s.gate.leave()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	lower, upper := appendEscapedPrefix(nil, start), appendEscapedPrefix(nil, end)
	if err := s.db.DeleteRange(lower, upper, pebble.Sync); err != nil {
		return fmt.Errorf("storage: drop range: %w", err)
	}
	s.compactInBackground(lower, upper)
	return nil
}

// DropRange implements Store.
func (s *MemoryStore) DropRange(start, end []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if bytes.Compare(start, end) >= 0 {
		return nil
	}
	lo, _ := slices.BinarySearch(s.keys, string(start))
	hi, _ := slices.BinarySearch(s.keys, string(end))
	for _, k := range s.keys[lo:hi] {
		delete(s.versions, k)
	}
	s.keys = slices.Delete(s.keys, lo, hi)
	return nil
}

// DropRange implements Store; it is failed with FaultPrune.
func (s *FaultyStore) DropRange(start, end []byte) error {
	if err := s.fault(FaultPrune, "drop range"); err != nil {
		return err
	}
	return s.inner.DropRange(start, end)
}
