package storage

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// MemoryStore is the in-memory twin of PebbleStore: identical semantics and
// errors, no durability. It copies everything it is given and returns
// copies, so callers may reuse their buffers. Every method takes one lock
// for its whole read or write, so reads see a commit entirely or not at all.
type MemoryStore struct {
	mu     sync.RWMutex
	closed bool
	// keys holds every key ever written, sorted; versions holds each key's
	// versions in ascending Version order.
	keys      []string
	versions  map[string][]memVersion
	committed bool
	last      uint64
	appHash   []byte
	floor     uint64
}

var _ Store = (*MemoryStore)(nil)

// memVersion is one stored version of a key.
type memVersion struct {
	version Version
	value   []byte // nil for a tombstone, non-nil otherwise
	deleted bool
}

// NewInMemoryStore returns an empty MemoryStore.
func NewInMemoryStore() *MemoryStore {
	return &MemoryStore{versions: make(map[string][]memVersion)}
}

// entry returns a copy of v as an Entry of key.
func (v memVersion) entry(key string) Entry {
	e := Entry{Key: []byte(key), Version: v.version, Deleted: v.deleted}
	if !v.deleted {
		e.Value = append([]byte{}, v.value...)
	}
	return e
}

// visible returns the index in vs of the newest version at or below at, or
// -1 if there is none.
func visible(vs []memVersion, at Version) int {
	i, _ := slices.BinarySearchFunc(vs, at, func(m memVersion, t Version) int {
		if t.Less(m.version) {
			return 1
		}
		return -1 // m.version <= t: keep searching right
	})
	return i - 1
}

// checkHeight returns ErrPruned if height is below the prune floor. The
// caller holds mu.
func (s *MemoryStore) checkHeight(height uint64) error {
	if height != 0 && height < s.floor {
		return fmt.Errorf("%w: height %d, oldest retained height %d", ErrPruned, height, s.floor)
	}
	return nil
}

// Get implements Store.
func (s *MemoryStore) Get(key []byte, height uint64) (Entry, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return Entry{}, false, ErrClosed
	}
	if err := s.checkHeight(height); err != nil {
		return Entry{}, false, err
	}
	k := string(key)
	vs := s.versions[k]
	i := visible(vs, readAt(height))
	if i < 0 {
		return Entry{}, false, nil
	}
	return vs[i].entry(k), true, nil
}

// History implements Store.
func (s *MemoryStore) History(key []byte, before Version, limit int) ([]Entry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	if limit <= 0 {
		limit = defaultHistoryLimit
	}
	k := string(key)
	vs := s.versions[k]
	start := len(vs) - 1
	if !before.IsZero() {
		// Index of the first version not older than before, minus one.
		i, _ := slices.BinarySearchFunc(vs, before, func(m memVersion, t Version) int {
			if m.version.Less(t) {
				return -1
			}
			return 1
		})
		start = i - 1
	}
	var out []Entry
	for i := start; i >= 0 && len(out) < limit; i-- {
		out = append(out, vs[i].entry(k))
	}
	return out, nil
}

// Scan implements Store. The matching entries are collected under the read
// lock and fn runs after it is released, so fn may call any method,
// including Commit.
func (s *MemoryStore) Scan(prefix []byte, height uint64, fn func(Entry) bool) error {
	entries, err := s.collect(prefix, height)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !fn(e) {
			return nil
		}
	}
	return nil
}

// collect returns the entries Scan hands to fn, in key order.
func (s *MemoryStore) collect(prefix []byte, height uint64) ([]Entry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	if err := s.checkHeight(height); err != nil {
		return nil, err
	}
	p := string(prefix)
	at := readAt(height)
	start, _ := slices.BinarySearch(s.keys, p)
	var out []Entry
	for _, k := range s.keys[start:] {
		if !strings.HasPrefix(k, p) {
			break
		}
		vs := s.versions[k]
		if i := visible(vs, at); i >= 0 && !vs[i].deleted {
			out = append(out, vs[i].entry(k))
		}
	}
	return out, nil
}

// Commit implements Store.
func (s *MemoryStore) Commit(b Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if err := b.validate(s.last, s.committed); err != nil {
		return err
	}
	if !s.committed && len(s.keys) > 0 {
		return errInterrupted
	}
	s.apply(b)
	return nil
}

// apply writes a validated batch and records it as the last commit. The
// caller holds mu.
func (s *MemoryStore) apply(b Batch) {
	s.applyWrites(b.Writes)
	s.committed = true
	s.last = b.Height
	s.appHash = append([]byte{}, b.AppHash...)
}

// applyWrites writes validated writes. The caller holds mu.
func (s *MemoryStore) applyWrites(ws []Entry) {
	var added []string
	for i := range ws {
		w := &ws[i]
		m := memVersion{version: w.Version, deleted: w.Deleted}
		if !w.Deleted {
			m.value = append([]byte{}, w.Value...)
		}
		k := string(w.Key)
		vs, found := s.versions[k]
		if !found {
			added = append(added, k)
		}
		s.versions[k] = insertVersion(vs, m)
	}
	if len(added) > 0 {
		slices.Sort(added)
		s.keys = mergeSorted(s.keys, added)
	}
}

// insertVersion puts m into vs in Version order; a version already present
// is replaced (the later write of the same key and version wins).
func insertVersion(vs []memVersion, m memVersion) []memVersion {
	if n := len(vs); n == 0 || vs[n-1].version.Less(m.version) {
		return append(vs, m)
	}
	i, found := slices.BinarySearchFunc(vs, m.version, func(x memVersion, t Version) int {
		switch {
		case x.version == t:
			return 0
		case x.version.Less(t):
			return -1
		default:
			return 1
		}
	})
	if found {
		vs[i] = m
		return vs
	}
	return slices.Insert(vs, i, m)
}

// mergeSorted merges two sorted slices of distinct strings (b may repeat
// within itself but holds nothing already in a) into a new sorted slice.
func mergeSorted(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var next string
		if j >= len(b) || (i < len(a) && a[i] < b[j]) {
			next, i = a[i], i+1
		} else {
			next, j = b[j], j+1
		}
		if n := len(out); n > 0 && out[n-1] == next {
			continue
		}
		out = append(out, next)
	}
	return out
}

// Last implements Store.
func (s *MemoryStore) Last() (uint64, []byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, nil, ErrClosed
	}
	return s.last, cloneHash(s.appHash), nil
}

// Prune implements Store.
func (s *MemoryStore) Prune(keepFrom uint64, keep ...[]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if keepFrom <= s.floor {
		return nil
	}
	s.floor = keepFrom
	at := readAt(keepFrom)
	for k, vs := range s.versions { // order does not matter: each key is independent
		if keepsHistory(k, keep) {
			continue
		}
		if i := visible(vs, at); i > 0 {
			s.versions[k] = slices.Clone(vs[i:])
		}
	}
	return nil
}

// Floor implements Store.
func (s *MemoryStore) Floor() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, ErrClosed
	}
	return s.floor, nil
}

// Close implements Store.
func (s *MemoryStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.closed = true
	s.keys, s.versions, s.appHash = nil, nil, nil
	return nil
}
