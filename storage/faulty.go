package storage

import (
	"errors"
	"fmt"
	"sync"
)

// ErrInjected is what a FaultyStore returns for a fault it was told to
// inject.
var ErrInjected = errors.New("storage: injected fault")

// FaultOps names Store calls a FaultyStore can fail, as a bit set.
type FaultOps uint8

// The Store calls a fault can be injected into.
const (
	FaultGet FaultOps = 1 << iota
	FaultHistory
	FaultScan
	FaultCommit
	FaultLast
	FaultPrune
	FaultReads = FaultGet | FaultHistory | FaultScan | FaultLast
	FaultAll   = FaultReads | FaultCommit | FaultPrune
)

// FaultyStore wraps a Store and fails calls on demand, in the spirit of
// Pebble's errorfs: a test arms it to fail the n-th matching call and every
// one after it, then shows that the code above halts with an error instead
// of going on with a wrong answer. A failed call has no effect on the
// wrapped store (a failed Commit writes nothing). It is safe for concurrent
// use.
type FaultyStore struct {
	inner Store

	mu    sync.Mutex
	ops   FaultOps // armed calls
	skip  int      // matching calls still to let through
	calls int      // matching calls since Inject
	fired int      // faults returned since Inject
}

var _ Store = (*FaultyStore)(nil)

// NewFaultyStore wraps inner; it injects nothing until Inject.
func NewFaultyStore(inner Store) *FaultyStore { return &FaultyStore{inner: inner} }

// Inject arms the store: after letting skip matching calls through, every
// call in ops fails with ErrInjected until Heal.
func (s *FaultyStore) Inject(ops FaultOps, skip int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops, s.skip, s.calls, s.fired = ops, skip, 0, 0
}

// Heal disarms the store.
func (s *FaultyStore) Heal() { s.Inject(0, 0) }

// Calls is the number of calls in the armed ops since the last Inject,
// failed or not (a test arms with a large skip to count them).
func (s *FaultyStore) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Fired is the number of faults returned since the last Inject.
func (s *FaultyStore) Fired() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fired
}

func (s *FaultyStore) fault(op FaultOps, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ops&op == 0 {
		return nil
	}
	s.calls++
	if s.skip > 0 {
		s.skip--
		return nil
	}
	s.fired++
	return fmt.Errorf("%w: %s", ErrInjected, name)
}

// Get implements Store.
func (s *FaultyStore) Get(key []byte, height uint64) (Entry, bool, error) {
	if err := s.fault(FaultGet, "get"); err != nil {
		return Entry{}, false, err
	}
	return s.inner.Get(key, height)
}

// History implements Store.
func (s *FaultyStore) History(key []byte, before Version, limit int) ([]Entry, error) {
	if err := s.fault(FaultHistory, "history"); err != nil {
		return nil, err
	}
	return s.inner.History(key, before, limit)
}

// Scan implements Store. A fault fails the scan before it calls fn.
func (s *FaultyStore) Scan(prefix []byte, height uint64, fn func(Entry) bool) error {
	if err := s.fault(FaultScan, "scan"); err != nil {
		return err
	}
	return s.inner.Scan(prefix, height, fn)
}

// Commit implements Store. A fault writes nothing.
func (s *FaultyStore) Commit(b Batch) error {
	if err := s.fault(FaultCommit, "commit"); err != nil {
		return err
	}
	return s.inner.Commit(b)
}

// Last implements Store.
func (s *FaultyStore) Last() (uint64, []byte, error) {
	if err := s.fault(FaultLast, "last"); err != nil {
		return 0, nil, err
	}
	return s.inner.Last()
}

// Prune implements Store.
func (s *FaultyStore) Prune(keepFrom uint64, keep ...[]byte) error {
	if err := s.fault(FaultPrune, "prune"); err != nil {
		return err
	}
	return s.inner.Prune(keepFrom, keep...)
}

// Floor implements Store; it is failed with the reads (FaultLast).
func (s *FaultyStore) Floor() (uint64, error) {
	if err := s.fault(FaultLast, "floor"); err != nil {
		return 0, err
	}
	return s.inner.Floor()
}

// Close closes the wrapped store; it is never failed.
func (s *FaultyStore) Close() error { return s.inner.Close() }
