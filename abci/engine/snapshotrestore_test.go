package engine

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
)

// snapshotOfChain runs a chain with snapshot_interval set and returns the
// encoded snapshot of its last snapshot height and that height's app hash.
func snapshotOfChain(t *testing.T) ([]byte, []byte) {
	t.Helper()
	src := newRetentionChain(t, types.Params{SnapshotInterval: 7}, storage.NewInMemoryStore())
	w := newWorkload(21)
	w.ref = src
	versions := committedVersions(src)
	hashes := map[uint64][]byte{}
	for h := uint64(1); h <= 20; h++ {
		res, err := src.FinalizeBlock(w.block(t, h, versions))
		if err != nil {
			t.Fatal(err)
		}
		if err := src.Commit(); err != nil {
			t.Fatal(err)
		}
		hashes[h] = res.AppHash
	}
	var buf bytes.Buffer
	info, err := src.WriteSnapshot(0, &buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), hashes[info.Height]
}

func bytesSource(b []byte) SnapshotSource {
	return SnapshotAt(bytes.NewReader(b), 0, int64(len(b)))
}

// storeEntries is every live entry of store, at the latest height.
func storeEntries(t *testing.T, store storage.Store) []storage.Entry {
	t.Helper()
	var out []storage.Entry
	if err := store.Scan(nil, 0, func(e storage.Entry) bool { out = append(out, e); return true }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRestoreFromStream: a snapshot restored from its bytes, in several
// batches into Pebble, gives the state Restore of the decoded snapshot
// gives; a snapshot with a changed byte, or checked against another app
// hash, writes nothing; one whose bytes change between the check and the
// restore leaves a store that claims no height, which the next restore
// clears.
func TestRestoreFromStream(t *testing.T) {
	enc, trusted := snapshotOfChain(t)
	s, err := DecodeSnapshot(enc)
	if err != nil {
		t.Fatal(err)
	}
	want, err := NewEngine(storage.NewInMemoryStore(), PlainVerifier{})
	if err != nil {
		t.Fatal(err)
	}
	if err := want.Restore(s); err != nil {
		t.Fatal(err)
	}
	ps, err := storage.NewPebbleStore(t.TempDir(), storage.DefaultPebbleOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	faulty := storage.NewFaultyStore(ps)
	e, err := NewEngine(faulty, PlainVerifier{})
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(enc)
	bad[len(bad)/2] ^= 1
	for what, c := range map[string]struct{ enc, trusted []byte }{
		"changed byte":   {bad, trusted},
		"other app hash": {enc, append([]byte{^trusted[0]}, trusted[1:]...)},
		"truncated":      {enc[:len(enc)-1], trusted},
	} {
		if _, err := e.RestoreFrom(bytesSource(c.enc), c.trusted); !errors.Is(err, ErrSnapshot) {
			t.Fatalf("%s: RestoreFrom: %v, want ErrSnapshot", what, err)
		}
		if got := storeEntries(t, ps); len(got) != 0 || e.Height() != 0 {
			t.Fatalf("%s: a refused snapshot wrote %d entries", what, len(got))
		}
	}
	// The bytes change after the check: the second read gives others.
	reads := 0
	changing := SnapshotSource{Size: int64(len(enc)), Open: func() (io.Reader, error) {
		reads++
		if reads == 2 {
			return bytes.NewReader(bad), nil
		}
		return bytes.NewReader(enc), nil
	}}
	if _, err := e.RestoreFrom(changing, trusted); !errors.Is(err, ErrSnapshot) {
		t.Fatalf("a snapshot changed between check and restore: %v, want ErrSnapshot", err)
	}
	if h, _, err := ps.Last(); err != nil || h != 0 {
		t.Fatalf("a snapshot changed between check and restore: the store claims height %d (%v)", h, err)
	}
	if got := storeEntries(t, ps); len(got) == 0 {
		t.Fatal("the changed snapshot wrote nothing: the test shows nothing")
	}
	// An engine opened over what the unfinished restore left (a restart)
	// sees no chain, and genesis cannot be written over it.
	reopened, err := NewEngine(ps, PlainVerifier{})
	if err != nil {
		t.Fatal(err)
	}
	if reopened.Initialised() || reopened.Height() != 0 {
		t.Fatalf("an engine over an unfinished restore: chain %q at %d; want none", reopened.ChainID(), reopened.Height())
	}
	w := newWorkload(1)
	g, vals := w.genesis()
	if _, err := reopened.InitChain("c", mustJSON(t, g), vals...); !errors.Is(err, storage.ErrNotEmpty) {
		t.Fatalf("InitChain over an unfinished restore: %v, want ErrNotEmpty", err)
	}
	info, err := e.RestoreFrom(bytesSource(enc), trusted)
	if err != nil {
		t.Fatal(err)
	}
	if info.Height != s.Height || !bytes.Equal(e.AppHash(), trusted) || e.Height() != s.Height {
		t.Fatalf("restored to %d %X (info %+v); want %d %X", e.Height(), e.AppHash(), info.SnapshotHeader, s.Height, trusted)
	}
	if got, want := storeEntries(t, ps), storeEntries(t, want.store); !reflect.DeepEqual(got, want) {
		t.Fatalf("the streamed restore holds %d entries, the decoded one %d", len(got), len(want))
	}
}

// TestRestoreFromBatches: with batches of at most 512 bytes of entries
// the restore hands the store many batches, and the state is the same.
func TestRestoreFromBatches(t *testing.T) {
	enc, trusted := snapshotOfChain(t)
	s, err := DecodeSnapshot(enc)
	if err != nil {
		t.Fatal(err)
	}
	want := storage.NewInMemoryStore()
	if err := want.Restore(storage.Batch{Height: s.Height, AppHash: s.AppHash, Writes: s.Entries}); err != nil {
		t.Fatal(err)
	}
	defer func(n int) { restoreBatchBytes = n }(restoreBatchBytes)
	restoreBatchBytes = 512
	size := 0
	for _, ent := range s.Entries {
		size += len(ent.Key) + len(ent.Value) + restoreEntryOverhead
	}
	faulty := storage.NewFaultyStore(storage.NewInMemoryStore())
	e, err := NewEngine(faulty, PlainVerifier{})
	if err != nil {
		t.Fatal(err)
	}
	faulty.Inject(storage.FaultCommit, 1<<30) // count the batches
	if _, err := e.RestoreFrom(bytesSource(enc), trusted); err != nil {
		t.Fatal(err)
	}
	if faulty.Calls() < size/1024 || faulty.Calls() > size/restoreBatchBytes+1 {
		t.Fatalf("%d bytes of entries restored in %d batches of at most %d bytes", size, faulty.Calls(), restoreBatchBytes)
	}
	if got, want := storeEntries(t, faulty), storeEntries(t, want); !reflect.DeepEqual(got, want) {
		t.Fatalf("restored in batches: %d entries, restored whole: %d", len(got), len(want))
	}
}
