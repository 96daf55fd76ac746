package storage

import (
	"slices"
	"testing"
)

func TestDropRangeMemory(t *testing.T) {
	testDropRange(t, NewInMemoryStore())
}

func TestDropRangePebble(t *testing.T) {
	testDropRange(t, openPebble(t, t.TempDir()))
}

// testDropRange: every version of the keys in [start, end) is gone, keys
// outside it (including one with the end as a prefix, and one holding a
// zero byte) keep every version, Last and the floor do not move.
func testDropRange(t *testing.T, s Store) {
	commit(t, s, 1, put(1, 0, "a\x00", "z"), put(1, 1, "a1", "x"), put(1, 2, "a2", "y"), put(1, 3, "a3", "w"), put(1, 4, "a3x", "v"), put(1, 5, "b", "u"))
	commit(t, s, 2, put(2, 0, "a1", "x2"), put(2, 1, "a3", "w2"))
	if err := s.DropRange([]byte("a1"), []byte("a3")); err != nil {
		t.Fatal(err)
	}
	if err := s.DropRange([]byte("a3"), []byte("a1")); err != nil { // empty: nothing
		t.Fatal(err)
	}
	if got, want := keysOf(scanAll(t, s, "", 0)), []string{"a\x00", "a3", "a3x", "b"}; !slices.Equal(got, want) {
		t.Fatalf("keys after DropRange(a1, a3) = %q, want %q", got, want)
	}
	wantMissing(t, s, "a1", 1)
	if h := historyAll(t, s, "a1", 10); len(h) != 0 {
		t.Fatalf("history of a dropped key: %v", h)
	}
	if h := historyAll(t, s, "a3", 10); len(h) != 2 {
		t.Fatalf("history of a3 (kept) has %d versions, want 2", len(h))
	}
	wantGet(t, s, "a3", 1, put(1, 3, "a3", "w"))
	if h, _, err := s.Last(); err != nil || h != 2 {
		t.Fatalf("Last after DropRange = %d, %v", h, err)
	}
	if f, err := s.Floor(); err != nil || f != 0 {
		t.Fatalf("Floor after DropRange = %d, %v", f, err)
	}
}
