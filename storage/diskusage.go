package storage

import "fmt"

// DiskUsage estimates the bytes on disk that the versions of the keys
// under prefix take, from pebble's sstable metadata (data still in the
// memtable or the write-ahead log is not counted: flush or reopen the store
// first for an exact figure). Benchmarks and operators use it to tell one
// kind of data from the rest of a store's directory.
func (s *PebbleStore) DiskUsage(prefix []byte) (uint64, error) {
	if !s.gate.enter() {
		return 0, ErrClosed
	}
	defer s.gate.leave()
	lower, upper := prefixBounds(prefix)
	n, err := s.db.EstimateDiskUsage(lower, upper)
	if err != nil {
		return 0, fmt.Errorf("storage: disk usage: %w", err)
	}
	return n, nil
}
