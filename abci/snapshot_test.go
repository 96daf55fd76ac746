package abci

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/libs/log"

	"github.com/dstt/dstt/abci/engine"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// TestStateSync: a node with snapshots on writes a snapshot file at its
// snapshot heights and serves it in chunks; an empty node offered it
// restores it and reports the height and app hash the chain had there; a
// snapshot whose bytes were changed, or offered with another app hash, is
// rejected and leaves the node empty.
func TestStateSync(t *testing.T) {
	ctx := context.Background()
	g := engine.DefaultGenesisState()
	g.Admins = []string{typestest.Addr("carol")}
	g.Params.SnapshotInterval = 4
	src := NewApp(newChain(t, g), nil)
	if err := src.EnableSnapshots(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	hashes := map[uint64][]byte{}
	for h := int64(1); h <= 20; h++ {
		tx := typestest.GovTx(t, uint64(h-1), []types.Op{typestest.Put(fmt.Sprint("k", h%5), fmt.Sprint("v", h))}, "carol")
		res, err := src.FinalizeBlock(ctx, &abcitypes.RequestFinalizeBlock{Height: h, Time: time.Unix(h, 0), Txs: [][]byte{tx}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := src.Commit(ctx, &abcitypes.RequestCommit{}); err != nil {
			t.Fatal(err)
		}
		hashes[uint64(h)] = res.AppHash
	}
	list, err := src.ListSnapshots(ctx, &abcitypes.RequestListSnapshots{})
	if err != nil || len(list.Snapshots) != keepSnapshots {
		t.Fatalf("ListSnapshots: %v %v; want %d", list, err, keepSnapshots)
	}
	snap := list.Snapshots[len(list.Snapshots)-1]
	var file []byte
	for i := range snap.Chunks {
		c, err := src.LoadSnapshotChunk(ctx, &abcitypes.RequestLoadSnapshotChunk{Height: snap.Height, Format: snap.Format, Chunk: i})
		if err != nil {
			t.Fatal(err)
		}
		file = append(file, c.Chunk...)
	}
	// The hash cached as the file was written is the file's, and so is
	// the one a restarted node computes from the file.
	src.snaps.sums = nil
	again, err := src.ListSnapshots(ctx, &abcitypes.RequestListSnapshots{})
	if sum := sha256.Sum256(file); err != nil || !bytes.Equal(snap.Hash, sum[:]) || !bytes.Equal(again.Snapshots[len(again.Snapshots)-1].Hash, sum[:]) {
		t.Fatalf("snapshot hash %X, after a restart %v (%v); the file's SHA-256 is %X", snap.Hash, again, err, sum)
	}

	join := func(chunk []byte, appHash []byte) (*App, abcitypes.ResponseApplySnapshotChunk_Result) {
		e, err := engine.NewEngine(storage.NewInMemoryStore(), engine.PlainVerifier{})
		if err != nil {
			t.Fatal(err)
		}
		a := NewApp(e, nil)
		offer, err := a.OfferSnapshot(ctx, &abcitypes.RequestOfferSnapshot{Snapshot: snap, AppHash: appHash})
		if err != nil || offer.Result != abcitypes.ResponseOfferSnapshot_ACCEPT {
			t.Fatalf("OfferSnapshot: %v %v", offer, err)
		}
		res, err := a.ApplySnapshotChunk(ctx, &abcitypes.RequestApplySnapshotChunk{Index: 0, Chunk: chunk, Sender: "peer1"})
		if err != nil {
			t.Fatal(err)
		}
		return a, res.Result
	}
	if snap.Chunks != 1 {
		t.Fatalf("a small snapshot in %d chunks", snap.Chunks)
	}
	bad := bytes.Clone(file)
	bad[len(bad)/2] ^= 1
	for what, c := range map[string]struct{ chunk, hash []byte }{
		"changed byte":   {bad, hashes[snap.Height]},
		"other app hash": {file, hashes[snap.Height-1]},
	} {
		a, res := join(c.chunk, c.hash)
		if res != abcitypes.ResponseApplySnapshotChunk_REJECT_SNAPSHOT || a.engine.Height() != 0 || a.engine.Initialised() {
			t.Fatalf("%s: %v, node at %d: want REJECT_SNAPSHOT and an empty node", what, res, a.engine.Height())
		}
	}
	a, res := join(file, hashes[snap.Height])
	if res != abcitypes.ResponseApplySnapshotChunk_ACCEPT {
		t.Fatalf("ApplySnapshotChunk: %v", res)
	}
	info, err := a.Info(ctx, &abcitypes.RequestInfo{})
	if err != nil || uint64(info.LastBlockHeight) != snap.Height || !bytes.Equal(info.LastBlockAppHash, hashes[snap.Height]) {
		t.Fatalf("after state sync: Info %v (%v); want height %d app hash %X", info, err, snap.Height, hashes[snap.Height])
	}
	multiChunk(t, snap, file, hashes[snap.Height])
}

// TestSnapshotFilesServed: a snapshot file is listed with the SHA-256 of
// its bytes and served chunk by chunk (the last one short, none past the
// end); a file rewritten since it was listed is listed with its new hash.
func TestSnapshotFilesServed(t *testing.T) {
	ctx := context.Background()
	a, dir := emptyApp(t)
	file := bytes.Repeat([]byte("0123456789abcdef"), snapshotChunk/16+1)
	path := filepath.Join(dir, "7.snap")
	for round, b := range [][]byte{file, file[:100]} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, time.Now(), time.Unix(int64(round), 0)); err != nil {
			t.Fatal(err)
		}
		list, err := a.ListSnapshots(ctx, &abcitypes.RequestListSnapshots{})
		sum := sha256.Sum256(b)
		want := uint32((len(b) + snapshotChunk - 1) / snapshotChunk)
		if err != nil || len(list.Snapshots) != 1 || list.Snapshots[0].Height != 7 || list.Snapshots[0].Chunks != want || !bytes.Equal(list.Snapshots[0].Hash, sum[:]) {
			t.Fatalf("round %d: ListSnapshots %v %v; want height 7, %d chunks, hash %X", round, list, err, want, sum)
		}
		var got []byte
		for i := range want + 1 {
			c, err := a.LoadSnapshotChunk(ctx, &abcitypes.RequestLoadSnapshotChunk{Height: 7, Format: snapshotFormat, Chunk: i})
			if err != nil || (i == want) != (len(c.Chunk) == 0) {
				t.Fatalf("round %d: chunk %d: %d bytes, %v", round, i, len(c.Chunk), err)
			}
			got = append(got, c.Chunk...)
		}
		if !bytes.Equal(got, b) {
			t.Fatalf("round %d: the chunks are not the file", round)
		}
	}
}

// multiChunk: the snapshot file sent in three chunks, in order, out of
// order, or with a chunk sent twice, restores the same state; a chunk sent
// again with a changed byte is refused.
func multiChunk(t *testing.T, snap *abcitypes.Snapshot, file, appHash []byte) {
	ctx := context.Background()
	third := len(file) / 3
	parts := [][]byte{file[:third], file[third : 2*third], file[2*third:]}
	changed := bytes.Clone(parts[0])
	changed[0] ^= 1
	multi := *snap
	multi.Chunks = 3
	for _, c := range []struct {
		order []uint32
		again []byte // what the second sending of a chunk holds (nil: the same)
		want  abcitypes.ResponseApplySnapshotChunk_Result
	}{
		{[]uint32{0, 1, 2}, nil, abcitypes.ResponseApplySnapshotChunk_ACCEPT},
		{[]uint32{2, 0, 1}, nil, abcitypes.ResponseApplySnapshotChunk_ACCEPT},
		{[]uint32{0, 1, 0, 2}, nil, abcitypes.ResponseApplySnapshotChunk_ACCEPT},
		{[]uint32{0, 1, 0, 2}, changed, abcitypes.ResponseApplySnapshotChunk_REJECT_SNAPSHOT},
	} {
		a, dir := emptyApp(t)
		if offer, err := a.OfferSnapshot(ctx, &abcitypes.RequestOfferSnapshot{Snapshot: &multi, AppHash: appHash}); err != nil || offer.Result != abcitypes.ResponseOfferSnapshot_ACCEPT {
			t.Fatalf("OfferSnapshot: %v %v", offer, err)
		}
		spooled := filepath.Join(dir, fmt.Sprintf("restore-%d.part", snap.Height))
		if _, err := os.Stat(spooled); err != nil {
			t.Fatalf("the chunks are not spooled into %s: %v", spooled, err)
		}
		var res *abcitypes.ResponseApplySnapshotChunk
		var err error
		sent := map[uint32]bool{}
		for _, i := range c.order {
			chunk := parts[i]
			if sent[i] && c.again != nil {
				chunk = c.again
			}
			sent[i] = true
			if res, err = a.ApplySnapshotChunk(ctx, &abcitypes.RequestApplySnapshotChunk{Index: i, Chunk: chunk, Sender: "peer1"}); err != nil {
				t.Fatal(err)
			}
		}
		if res.Result != c.want || (a.engine.Height() == snap.Height) != (c.want == abcitypes.ResponseApplySnapshotChunk_ACCEPT) {
			t.Fatalf("chunks %v (again changed: %v): %v, node at %d; want %v", c.order, c.again != nil, res.Result, a.engine.Height(), c.want)
		}
		if _, err := os.Stat(spooled); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("chunks %v: the spool file is left after the restore ended: %v", c.order, err)
		}
	}
}

// A snapshot over what a joining node accepts by state sync is reported to
// the operator when it is written; one at the limit is not, and a joining
// node accepts an offer of exactly as many chunks.
func TestUnsyncableSnapshotWarned(t *testing.T) {
	var logged bytes.Buffer
	e, err := engine.NewEngine(storage.NewInMemoryStore(), engine.PlainVerifier{})
	if err != nil {
		t.Fatal(err)
	}
	a := NewApp(e, log.NewTMLogger(&logged))
	a.warnIfUnsyncable(10, maxSyncableSnapshot)
	if logged.Len() != 0 {
		t.Fatalf("a snapshot at the limit was reported: %s", logged.String())
	}
	a.warnIfUnsyncable(20, maxSyncableSnapshot+1)
	if !strings.Contains(logged.String(), "snapshot too large for state sync") || !strings.Contains(logged.String(), "height=20") {
		t.Fatalf("a snapshot over the limit was not reported: %q", logged.String())
	}
	offer := func(chunks uint32) abcitypes.ResponseOfferSnapshot_Result {
		hash := sha256.Sum256(nil)
		res, err := a.OfferSnapshot(context.Background(), &abcitypes.RequestOfferSnapshot{
			Snapshot: &abcitypes.Snapshot{Height: 5, Format: snapshotFormat, Chunks: chunks, Hash: hash[:]}, AppHash: []byte{1},
		})
		if err != nil {
			t.Fatal(err)
		}
		return res.Result
	}
	if got := offer(uint32(maxSyncableSnapshot / snapshotChunk)); got != abcitypes.ResponseOfferSnapshot_ACCEPT {
		t.Fatalf("an offer of a snapshot at the limit: %v", got)
	}
	if got := offer(uint32(maxSyncableSnapshot/snapshotChunk) + 1); got != abcitypes.ResponseOfferSnapshot_REJECT {
		t.Fatalf("an offer of a snapshot over the limit: %v", got)
	}
}

// TestStateSyncSpoolLeftover: the spool file a node stopped part way
// left is removed at the next offer; a new offer drops the file of the
// one before it.
func TestStateSyncSpoolLeftover(t *testing.T) {
	ctx := context.Background()
	a, dir := emptyApp(t)
	left := filepath.Join(dir, "restore-3.part")
	if err := os.WriteFile(left, []byte("part"), 0o600); err != nil {
		t.Fatal(err)
	}
	hash := sha256.Sum256(nil)
	for _, h := range []uint64{5, 6} {
		res, err := a.OfferSnapshot(ctx, &abcitypes.RequestOfferSnapshot{
			Snapshot: &abcitypes.Snapshot{Height: h, Format: snapshotFormat, Chunks: 2, Hash: hash[:]}, AppHash: []byte{1},
		})
		if err != nil || res.Result != abcitypes.ResponseOfferSnapshot_ACCEPT {
			t.Fatalf("offer of height %d: %v %v", h, res, err)
		}
		if _, err := a.ApplySnapshotChunk(ctx, &abcitypes.RequestApplySnapshotChunk{Index: 1, Chunk: []byte("chunk"), Sender: "peer1"}); err != nil {
			t.Fatal(err)
		}
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	if want := filepath.Join(dir, "restore-6.part"); len(names) != 1 || names[0] != want {
		t.Fatalf("the snapshot directory holds %v; want only %s", names, want)
	}
}

// TestStateSyncLarge: a snapshot of 10,000 keys of 500 bytes (over one
// chunk, and more entries than a header read holds), its chunks sent out
// of order, is spooled, verified and restored.
func TestStateSyncLarge(t *testing.T) {
	ctx := context.Background()
	g := engine.DefaultGenesisState()
	g.Admins = []string{typestest.Addr("carol")}
	g.Params.SnapshotInterval = 1
	src := NewApp(newChain(t, g), nil)
	if err := src.EnableSnapshots(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	value := strings.Repeat("v", 500)
	var appHash []byte
	for h := int64(1); h <= 10; h++ {
		ops := make([]types.Op, 1000)
		for i := range ops {
			ops[i] = typestest.Put(fmt.Sprintf("k%d/%d", h, i), value)
		}
		res, err := src.FinalizeBlock(ctx, &abcitypes.RequestFinalizeBlock{Height: h, Time: time.Unix(h, 0), Txs: [][]byte{typestest.GovTx(t, uint64(h-1), ops, "carol")}})
		if err != nil || res.TxResults[0].Code != 0 {
			t.Fatalf("block %d: %v %v", h, res, err)
		}
		if _, err := src.Commit(ctx, &abcitypes.RequestCommit{}); err != nil {
			t.Fatal(err)
		}
		appHash = res.AppHash
	}
	list, err := src.ListSnapshots(ctx, &abcitypes.RequestListSnapshots{})
	if err != nil || len(list.Snapshots) == 0 {
		t.Fatalf("ListSnapshots: %v %v", list, err)
	}
	snap := list.Snapshots[len(list.Snapshots)-1]
	if snap.Height != 10 || snap.Chunks < 2 {
		t.Fatalf("snapshot of height %d in %d chunks; want 10, at least 2", snap.Height, snap.Chunks)
	}
	a, dir := emptyApp(t)
	if offer, err := a.OfferSnapshot(ctx, &abcitypes.RequestOfferSnapshot{Snapshot: snap, AppHash: appHash}); err != nil || offer.Result != abcitypes.ResponseOfferSnapshot_ACCEPT {
		t.Fatalf("OfferSnapshot: %v %v", offer, err)
	}
	var res *abcitypes.ResponseApplySnapshotChunk
	for i := int(snap.Chunks) - 1; i >= 0; i-- {
		c, err := src.LoadSnapshotChunk(ctx, &abcitypes.RequestLoadSnapshotChunk{Height: snap.Height, Format: snap.Format, Chunk: uint32(i)})
		if err != nil {
			t.Fatal(err)
		}
		if res, err = a.ApplySnapshotChunk(ctx, &abcitypes.RequestApplySnapshotChunk{Index: uint32(i), Chunk: c.Chunk, Sender: "peer1"}); err != nil {
			t.Fatal(err)
		}
	}
	if res.Result != abcitypes.ResponseApplySnapshotChunk_ACCEPT || a.engine.Height() != 10 || !bytes.Equal(a.engine.AppHash(), appHash) {
		t.Fatalf("ApplySnapshotChunk: %v, node at %d %X; want 10 %X", res.Result, a.engine.Height(), a.engine.AppHash(), appHash)
	}
	if kv, err := a.engine.Reader().Get("k7/999", 0); err != nil || string(kv.Value) != value {
		t.Fatalf("a restored key: %v %v", kv, err)
	}
	if names, _ := filepath.Glob(filepath.Join(dir, "*.part")); len(names) != 0 {
		t.Fatalf("spool files left: %v", names)
	}
}

// emptyApp is an app with no state and snapshots on in a new directory.
func emptyApp(t *testing.T) (*App, string) {
	t.Helper()
	e, err := engine.NewEngine(storage.NewInMemoryStore(), engine.PlainVerifier{})
	if err != nil {
		t.Fatal(err)
	}
	a := NewApp(e, nil)
	dir := t.TempDir()
	if err := a.EnableSnapshots(dir); err != nil {
		t.Fatal(err)
	}
	return a, dir
}
