package storage

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
)

// snapshotEntries is a snapshot's writes: n keys prefix000... with values
// tagged by tag, at versions at or below height.
func snapshotEntries(prefix, tag string, n int, height uint64) []Entry {
	ws := make([]Entry, n)
	for i := range ws {
		ws[i] = put(uint64(i)%height+1, uint32(i), fmt.Sprintf("%s%03d", prefix, i), fmt.Sprintf("%s-%d", tag, i))
	}
	return ws
}

// batchesOf yields ws in batches of size; with failAfter > 0 it fails
// after that many batches.
func batchesOf(ws []Entry, size, failAfter int) RestoreSource {
	n := 0
	return func() ([]Entry, error) {
		if failAfter > 0 && n == failAfter {
			return nil, errors.New("the source broke")
		}
		n++
		b := ws[:min(size, len(ws))]
		ws = ws[len(b):]
		return b, nil
	}
}

// wantRestored: s holds exactly ws at height with appHash.
func wantRestored(t *testing.T, s Store, height uint64, appHash string, ws []Entry) {
	t.Helper()
	if h, hash, err := s.Last(); err != nil || h != height || string(hash) != appHash {
		t.Fatalf("Last after the restore = %d, %q, %v; want %d, %q", h, hash, err, height, appHash)
	}
	if f, err := s.Floor(); err != nil || f != height {
		t.Fatalf("Floor after the restore = %d, %v; want %d", f, err, height)
	}
	if got := scanAll(t, s, "", 0); !reflect.DeepEqual(got, ws) {
		t.Fatalf("after the restore the store holds %d entries, want exactly the snapshot's %d", len(got), len(ws))
	}
}

// testRestoreFrom is the conformance suite of RestoreFrom, run against
// every Store.
func testRestoreFrom(t *testing.T, open func(*testing.T) Store) {
	t.Run("Batches", func(t *testing.T) {
		s := open(t)
		ws := snapshotEntries("k", "a", 250, 7)
		if err := s.RestoreFrom(7, []byte("hash7"), batchesOf(ws, 100, 0)); err != nil {
			t.Fatal(err)
		}
		wantRestored(t, s, 7, "hash7", ws)
		commit(t, s, 8, put(8, 0, "k000", "new"))
		if err := s.RestoreFrom(9, nil, batchesOf(ws, 100, 0)); !errors.Is(err, ErrNotEmpty) {
			t.Fatalf("RestoreFrom over a commit: %v, want ErrNotEmpty", err)
		}
	})
	t.Run("BadBatch", func(t *testing.T) {
		s := open(t)
		ws := append(snapshotEntries("k", "a", 150, 7), put(8, 0, "z", "too new"))
		if err := s.RestoreFrom(7, []byte("hash7"), batchesOf(ws, 100, 0)); !errors.Is(err, ErrBadWrite) {
			t.Fatalf("RestoreFrom with a version above its height in the second batch: %v, want ErrBadWrite", err)
		}
		if h, _, err := s.Last(); err != nil || h != 0 {
			t.Fatalf("a refused restore claims height %d (%v)", h, err)
		}
	})
	// A restore interrupted after some batches claims no height; a full
	// restore of another snapshot then leaves exactly that snapshot.
	t.Run("Interrupted", func(t *testing.T) {
		s := open(t)
		first := snapshotEntries("k", "first", 300, 5)
		if err := s.RestoreFrom(5, []byte("hash5"), batchesOf(first, 100, 2)); err == nil {
			t.Fatal("a restore whose source broke succeeded")
		}
		if h, hash, err := s.Last(); err != nil || h != 0 || hash != nil {
			t.Fatalf("an interrupted restore claims height %d, %X (%v)", h, hash, err)
		}
		if err := s.Commit(Batch{Height: 0, AppHash: []byte("genesis")}); !errors.Is(err, ErrNotEmpty) {
			t.Fatalf("Commit onto an interrupted restore: %v, want ErrNotEmpty", err)
		}
		second := snapshotEntries("k", "second", 120, 9)
		if err := s.RestoreFrom(9, []byte("hash9"), batchesOf(second, 50, 0)); err != nil {
			t.Fatal(err)
		}
		wantRestored(t, s, 9, "hash9", second)
	})
}

func TestRestoreFromMemory(t *testing.T) {
	testRestoreFrom(t, func(t *testing.T) Store { return NewInMemoryStore() })
}

func TestRestoreFromPebble(t *testing.T) {
	testRestoreFrom(t, func(t *testing.T) Store { return openPebble(t, t.TempDir()) })
}

func TestRestoreFromFaulty(t *testing.T) {
	testRestoreFrom(t, func(t *testing.T) Store { return NewFaultyStore(NewInMemoryStore()) })
}

// TestPebbleRestoreInterruptedReopened: a fault in the third batch of a
// restore stops it; the store, closed and reopened, claims no height but
// holds the first two batches; a full restore of another snapshot leaves
// exactly that snapshot, which survives a crash (its synced end makes the
// unsynced batches before it durable).
func TestPebbleRestoreInterruptedReopened(t *testing.T) {
	fs, opts := strictMemOptions(t)
	s := NewFaultyStore(openPebbleWith(t, "db", opts))
	s.Inject(FaultCommit, 2)
	first := snapshotEntries("k", "first", 300, 5)
	if err := s.RestoreFrom(5, []byte("hash5"), batchesOf(first, 100, 0)); !errors.Is(err, ErrInjected) {
		t.Fatalf("RestoreFrom with a fault in its third batch: %v, want ErrInjected", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	p := openPebbleWith(t, "db", opts)
	if h, hash, err := p.Last(); err != nil || h != 0 || hash != nil {
		t.Fatalf("reopened after an interrupted restore: Last %d, %X, %v; want no height", h, hash, err)
	}
	if got := scanAll(t, p, "", 0); len(got) != 200 {
		t.Fatalf("reopened after an interrupted restore: %d entries, want the two batches written (200)", len(got))
	}
	second := snapshotEntries("k", "second", 120, 9)
	if err := p.RestoreFrom(9, []byte("hash9"), batchesOf(second, 50, 0)); err != nil {
		t.Fatal(err)
	}
	wantRestored(t, p, 9, "hash9", second)
	fs.SetIgnoreSyncs(true)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	fs.ResetToSyncedState()
	fs.SetIgnoreSyncs(false)
	wantRestored(t, openPebbleWith(t, "db", opts), 9, "hash9", second)
}
