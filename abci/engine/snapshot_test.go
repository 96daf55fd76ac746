package engine

import (
	"bytes"
	"errors"
	"testing"

	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
)

// TestSnapshotRestore: a snapshot of a chain with snapshot_interval set
// verifies against the app hash of its height, rebuilds a replica on an
// empty store, and that replica then agrees with the chain at every later
// height; a snapshot with any changed byte of state, audit entry or hash
// is refused with the reason.
func TestSnapshotRestore(t *testing.T) {
	p := types.Params{SnapshotInterval: 7, RetainHeights: 5}
	src := newRetentionChain(t, p, storage.NewInMemoryStore())
	w := newWorkload(21)
	w.ref = src
	versions := committedVersions(src)
	hashes := map[uint64][]byte{}
	blocks := map[uint64]Block{}
	run := func(h uint64, es ...*Engine) {
		b := w.block(t, h, versions)
		blocks[h] = b
		var first []byte
		for i, e := range es {
			res, err := e.FinalizeBlock(b)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Commit(); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first = res.AppHash
			} else if !bytes.Equal(res.AppHash, first) {
				t.Fatalf("height %d: restored replica app hash %X, chain %X", h, res.AppHash, first)
			}
		}
		hashes[h] = first
	}
	h := uint64(1)
	for ; h <= 30; h++ {
		run(h, src)
	}
	snapH := src.Reader().LastSnapshotHeight()
	if snapH < 14 {
		t.Fatalf("last snapshot height %d after 30 blocks with snapshot_interval 7", snapH)
	}
	s, err := ExportSnapshot(src.store, 0)
	if err != nil {
		t.Fatal(err)
	}
	enc := s.Encode()
	s, err = DecodeSnapshot(enc)
	if err != nil {
		t.Fatal(err)
	}
	if s.Height != snapH || !bytes.Equal(s.AppHash, hashes[snapH]) {
		t.Fatalf("snapshot at %d with app hash %X; want %d, %X", s.Height, s.AppHash, snapH, hashes[snapH])
	}
	if err := VerifySnapshot(s, hashes[snapH]); err != nil {
		t.Fatal(err)
	}
	refuseTampered(t, enc, hashes[snapH])

	replica, err := NewEngine(storage.NewInMemoryStore(), PlainVerifier{})
	if err != nil {
		t.Fatal(err)
	}
	if err := replica.Restore(s); err != nil {
		t.Fatal(err)
	}
	if replica.Height() != snapH || !bytes.Equal(replica.AppHash(), hashes[snapH]) {
		t.Fatalf("restored replica at %d %X", replica.Height(), replica.AppHash())
	}
	// The replica replays the blocks after the snapshot, as CometBFT's
	// block sync hands them over, then runs along with the chain.
	for rh := snapH + 1; rh < h; rh++ {
		res, err := replica.FinalizeBlock(blocks[rh])
		if err != nil {
			t.Fatal(err)
		}
		if err := replica.Commit(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(res.AppHash, hashes[rh]) {
			t.Fatalf("replayed height %d: app hash %X, the chain's %X", rh, res.AppHash, hashes[rh])
		}
	}
	for ; h <= 60; h++ {
		run(h, src, replica)
	}
	if replica.Reader().LastSnapshotHeight() != src.Reader().LastSnapshotHeight() || replica.Reader().LastSnapshotHeight() <= snapH {
		t.Fatalf("snapshot heights: replica %d, chain %d", replica.Reader().LastSnapshotHeight(), src.Reader().LastSnapshotHeight())
	}
}

// refuseTampered flips bytes of an encoded snapshot in every part and
// wants each variant refused.
func refuseTampered(t *testing.T, enc, trusted []byte) {
	t.Helper()
	s, _ := DecodeSnapshot(enc)
	for i := range s.Entries {
		if s.Entries[i].Key[0] != nsUser && s.Entries[i].Key[0] != nsAudit {
			continue
		}
		for _, change := range []func(*storage.Entry){
			func(e *storage.Entry) { e.Value = append(append([]byte{}, e.Value...), 'x') },
			func(e *storage.Entry) { e.Version.Index++ },
		} {
			bad, _ := DecodeSnapshot(enc)
			change(&bad.Entries[i])
			if err := VerifySnapshot(bad, trusted); !errors.Is(err, ErrSnapshot) {
				t.Fatalf("snapshot with entry %q changed (%+v): %v, want ErrSnapshot", bad.Entries[i].Key, bad.Entries[i].Version, err)
			}
		}
	}
	bad, _ := DecodeSnapshot(enc)
	bad.Entries = bad.Entries[1:]
	if err := VerifySnapshot(bad, trusted); !errors.Is(err, ErrSnapshot) {
		t.Fatalf("snapshot with an entry left out: %v", err)
	}
	if err := VerifySnapshot(s, append([]byte{1}, trusted[1:]...)); !errors.Is(err, ErrSnapshot) {
		t.Fatalf("snapshot against another app hash: %v", err)
	}
	if _, err := DecodeSnapshot(enc[:len(enc)-3]); !errors.Is(err, ErrSnapshot) {
		t.Fatalf("truncated snapshot: %v", err)
	}
}
