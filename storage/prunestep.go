package storage

import "fmt"

// prunePass is where PebbleStore.PruneStep stands: a pass visits every key
// once, a step at a time, deleting what no read at or above the floor can
// see.
type prunePass struct {
	next        []byte // the data key the running pass goes on from (nil: none runs)
	floor       uint64 // the floor the running pass started at
	done        uint64 // every key is pruned to at least this floor
	first, last []byte // the span the running pass has deleted so far
}

// PruneStep implements Store. The floor rises to keepFrom at once (synced,
// published before anything is deleted); a pass over the keys starts when
// the floor is above what the last complete pass pruned to, and each call
// visits at most limit keys of it, deleting their versions older than the
// one visible at the floor (one range deletion per key, one batch). A key
// visited at a lower floor is visited again by the next pass. When a pass
// ends, the span it deleted is compacted in the background (Close waits
// for it), so the disk space comes back without holding up the caller.
// After a restart the first call starts a pass at the floor.
func (s *PebbleStore) PruneStep(keepFrom uint64, limit int, keep ...[]byte) (done bool, err error) {
	if !s.gate.enter() {
		return false, ErrClosed
	}
	defer s.gate.leave()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if keepFrom > s.floor.Load() {
		if err := s.raiseFloor(keepFrom); err != nil {
			return false, err
		}
	}
	floor, p := s.floor.Load(), &s.pass
	if p.next == nil {
		if floor <= p.done {
			return true, nil
		}
		lower, _ := prefixBounds(nil)
		*p = prunePass{next: lower, floor: floor, done: p.done}
	}
	next, first, last, err := s.deleteOldStep(p.next, floor, escapedPrefixes(keep), max(limit, 1))
	if err != nil {
		return false, fmt.Errorf("storage: prune to %d: %w", floor, err)
	}
	if p.first == nil {
		p.first = first
	}
	if last != nil {
		p.last = last
	}
	if p.next = next; next != nil {
		return false, nil
	}
	p.done = p.floor
	if p.first != nil {
		s.compactInBackground(p.first, p.last)
	}
	p.first, p.last = nil, nil
	return floor <= p.done, nil
}

// compactInBackground compacts [first, last) on its own goroutine; Close
// waits for it. A failure only delays the disk space coming back: it is
// logged.
func (s *PebbleStore) compactInBackground(first, last []byte) {
	if !s.gate.enter() {
		return
	}
	go func() {
		defer s.gate.leave()
		if err := s.db.Compact(first, last, false); err != nil {
			s.log.Infof("storage: compaction after pruning: %v", err)
		}
	}()
}

// PruneStep implements Store: the in-memory twin prunes in one step.
func (s *MemoryStore) PruneStep(keepFrom uint64, _ int, keep ...[]byte) (bool, error) {
	return true, s.Prune(keepFrom, keep...)
}

// PruneStep implements Store; it is failed with FaultPrune.
func (s *FaultyStore) PruneStep(keepFrom uint64, limit int, keep ...[]byte) (bool, error) {
	if err := s.fault(FaultPrune, "prune step"); err != nil {
		return false, err
	}
	return s.inner.PruneStep(keepFrom, limit, keep...)
}

// PrunePending reports whether a pruning pass is under way or due: the
// floor is above what the last complete pass pruned to.
func (s *PebbleStore) PrunePending() bool {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.pass.next != nil || s.floor.Load() > s.pass.done
}
