package storage

import (
	"errors"
	"testing"
)

func TestRetentionMemory(t *testing.T) {
	testRetention(t, func(t *testing.T) Store { return NewInMemoryStore() })
}

func TestRetentionPebble(t *testing.T) {
	testRetention(t, func(t *testing.T) Store { return openPebble(t, t.TempDir()) })
}

// testRetention is the conformance suite of Prune's keep prefixes, Floor and
// Restore, run against every Store.
func testRetention(t *testing.T, open func(*testing.T) Store) {
	t.Run("PruneKeepsPrefixes", func(t *testing.T) {
		s := open(t)
		commit(t, s, 1, put(1, 0, "h", "h1"), put(1, 1, "hx", "hx1"), put(1, 2, "x", "x1"))
		commit(t, s, 2, put(2, 0, "h", "h2"), put(2, 1, "hx", "hx2"), put(2, 2, "x", "x2"))
		commit(t, s, 3, put(3, 0, "h", "h3"), put(3, 1, "hx", "hx3"), put(3, 2, "x", "x3"))
		if f, err := s.Floor(); err != nil || f != 0 {
			t.Fatalf("Floor before pruning = %d, %v", f, err)
		}
		if err := s.Prune(3, []byte("h")); err != nil {
			t.Fatal(err)
		}
		if f, err := s.Floor(); err != nil || f != 3 {
			t.Fatalf("Floor after Prune(3) = %d, %v", f, err)
		}
		for key, n := range map[string]int{"h": 3, "hx": 3, "x": 1} {
			if got := historyAll(t, s, key, 10); len(got) != n {
				t.Fatalf("%s history after Prune(3, h) has %d versions, want %d", key, len(got), n)
			}
		}
		wantGet(t, s, "x", 0, put(3, 2, "x", "x3"))
	})

	t.Run("Restore", func(t *testing.T) {
		s := open(t)
		b := Batch{Height: 7, AppHash: []byte("hash7"), Writes: []Entry{
			put(2, 0, "a", "a2"), put(7, 1, "b", "b7"), put(0, 0, "g", "genesis"),
		}}
		if err := s.Restore(b); err != nil {
			t.Fatal(err)
		}
		if h, hash, err := s.Last(); err != nil || h != 7 || string(hash) != "hash7" {
			t.Fatalf("Last after Restore = %d, %q, %v", h, hash, err)
		}
		if f, _ := s.Floor(); f != 7 {
			t.Fatalf("Floor after Restore = %d, want 7", f)
		}
		wantGet(t, s, "a", 0, put(2, 0, "a", "a2"))
		wantGet(t, s, "g", 7, put(0, 0, "g", "genesis"))
		if _, _, err := s.Get([]byte("a"), 6); !errors.Is(err, ErrPruned) {
			t.Fatalf("Get below the restored height: %v, want ErrPruned", err)
		}
		commit(t, s, 8, put(8, 0, "a", "a8"))
		wantGet(t, s, "a", 0, put(8, 0, "a", "a8"))
		if err := s.Restore(b); !errors.Is(err, ErrNotEmpty) {
			t.Fatalf("second Restore: %v, want ErrNotEmpty", err)
		}
	})

	t.Run("RestoreRefusesNewerVersions", func(t *testing.T) {
		s := open(t)
		err := s.Restore(Batch{Height: 3, Writes: []Entry{put(4, 0, "a", "x")}})
		if !errors.Is(err, ErrBadWrite) {
			t.Fatalf("Restore with a version above its height: %v, want ErrBadWrite", err)
		}
		commit(t, s, 1, put(1, 0, "a", "x"))
		if err := s.Restore(Batch{Height: 3}); !errors.Is(err, ErrNotEmpty) {
			t.Fatalf("Restore over a commit: %v, want ErrNotEmpty", err)
		}
	})
}

// TestPrunePebbleFreesDisk: pruning most versions of many keys gives the
// disk space back (Prune compacts what it deleted).
func TestPrunePebbleFreesDisk(t *testing.T) {
	s := openPebble(t, t.TempDir())
	value := make([]byte, 200)
	const keys, heights = 500, 20
	for h := uint64(1); h <= heights; h++ {
		ws := make([]Entry, 0, keys)
		for i := range keys {
			value[0], value[1], value[2] = byte(h), byte(i), byte(i>>8)
			ws = append(ws, Entry{Key: []byte{'k', byte(i), byte(i >> 8)}, Value: value, Version: Version{h, uint32(i)}})
		}
		commit(t, s, h, ws...)
	}
	if err := s.db.Flush(); err != nil { // count the memtable's data in tables
		t.Fatal(err)
	}
	before := tableBytes(s)
	if err := s.Prune(heights); err != nil {
		t.Fatal(err)
	}
	after := tableBytes(s)
	// 1 version of 20 is left; the write-ahead log and the manifest stay.
	if after*2 > before {
		t.Fatalf("disk after pruning 19 of 20 versions: %d bytes, before %d: want at most half", after, before)
	}
}

// tableBytes is the size of the store's live tables (files pebble is
// done with are deleted in the background, so a directory listing lags).
func tableBytes(s *PebbleStore) int64 {
	m := s.db.Metrics()
	return m.Total().Size
}
