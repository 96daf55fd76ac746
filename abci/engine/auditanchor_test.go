package engine

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

func anchorOp(seq uint64, hash []byte, pruneBelow uint64) []types.Op {
	return []types.Op{{Sum: &types.Op_AuditAnchor{AuditAnchor: &types.AuditAnchor{Seq: seq, Hash: hash, PruneBelow: pruneBelow}}}}
}

// anchorReplicas runs every block on a Pebble and an in-memory engine and
// requires the same results and app hash from both.
type anchorReplicas struct {
	t  *testing.T
	es []*Engine
}

// newAnchorReplicas: a Pebble and an in-memory replica of the threeOrgs
// chain.
func newAnchorReplicas(t *testing.T) *anchorReplicas {
	ps, err := storage.NewPebbleStore(t.TempDir(), storage.DefaultPebbleOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ps.Close() })
	vals := []string{"val1", "val2", "val3"}
	return &anchorReplicas{t: t, es: []*Engine{newChain(t, ps, threeOrgs(), vals...), newChain(t, storage.NewInMemoryStore(), threeOrgs(), vals...)}}
}

func (r *anchorReplicas) block(txs ...[]byte) *BlockResult {
	r.t.Helper()
	var first *BlockResult
	for i, e := range r.es {
		res := runBlock(r.t, e, txs...)
		if i == 0 {
			first = res
			continue
		}
		if !bytes.Equal(res.AppHash, first.AppHash) {
			r.t.Fatalf("height %d: replica %d app hash %X, replica 0 %X", e.Height(), i, res.AppHash, first.AppHash)
		}
		for j := range res.Txs {
			if res.Txs[j].Code != first.Txs[j].Code {
				r.t.Fatalf("height %d tx %d: replica %d %s, replica 0 %s", e.Height(), j, i, res.Txs[j].Code.Name(), first.Txs[j].Code.Name())
			}
		}
	}
	return first
}

// refused submits tx to CheckTx and then in a block on every replica: both
// must refuse it with want, and the anchor record and the readable audit
// chain must be what they were.
func (r *anchorReplicas) refused(tx []byte, want types.Code, what string) {
	r.t.Helper()
	e := r.es[0]
	before, err := e.readAnchor(nil)
	if err != nil {
		r.t.Fatal(err)
	}
	if got := e.CheckTx(tx); got.Code != want {
		r.t.Fatalf("%s: CheckTx %s %q, want %s", what, got.Code.Name(), got.Log, want.Name())
	}
	res := r.block(tx)
	wantCode(r.t, res, want, what)
	after, err := e.readAnchor(nil)
	if err != nil {
		r.t.Fatal(err)
	}
	if after.Seq != before.Seq || after.Floor != before.Floor || !bytes.Equal(after.Hash, before.Hash) {
		r.t.Fatalf("%s: the refused tx changed the anchor record from %+v to %+v", what, before, after)
	}
}

func entryHash(t *testing.T, e *Engine, seq uint64) []byte {
	t.Helper()
	page, err := e.Reader().AuditEntries(audit.EntriesRequest{From: seq, Limit: 1})
	if err != nil || len(page.Entries) != 1 {
		t.Fatalf("audit entry %d: %v", seq, err)
	}
	return page.Entries[0].Hash
}

// TestAuditAnchorAndPrune: an anchor with a wrong hash, an unknown entry,
// too few approving orgs, or pruning above the anchor is refused by CheckTx
// and in a block alike, changing nothing; a valid anchor prunes the
// entries below its prune point on every replica (same app hashes), reads
// below answer ErrPruned naming the lowest readable entry, the start-up
// check and the chain verify from there, and the anchor tx's own entry
// records the prune (audit.PrunedBy).
func TestAuditAnchorAndPrune(t *testing.T) {
	r := newAnchorReplicas(t)
	e := r.es[0]
	for i := range 4 { // entries 1-4: rejected governance txs (one org only)
		mustFail := typestest.GovTx(t, e.Height(), []types.Op{typestest.AddValidator("val4", int64(10+i), "org1")}, "a1")
		r.block(mustFail)
	}
	h3 := entryHash(t, e, 3)
	wrong := bytes.Clone(h3)
	wrong[0] ^= 1
	r.refused(typestest.GovTx(t, e.Height(), anchorOp(3, wrong, 0), "a1", "a2"), types.CodeAuditAnchor, "wrong hash")
	r.refused(typestest.GovTx(t, e.Height(), anchorOp(99, h3, 0), "a1", "a2"), types.CodeAuditAnchor, "uncommitted entry")
	r.refused(typestest.GovTx(t, e.Height(), anchorOp(3, h3, 3), "a1"), types.CodeUnauthorized, "one org")
	r.refused(typestest.GovTx(t, e.Height(), anchorOp(3, h3, 3), "multi"), types.CodeUnauthorized, "one key for two orgs")
	r.refused(typestest.GovTx(t, e.Height(), anchorOp(3, h3, 4), "a1", "a2"), types.CodeAuditPrune, "prune above the anchor")
	r.refused(typestest.GovTx(t, e.Height(), anchorOp(0, nil, 2), "a1", "a2"), types.CodeAuditPrune, "prune with no anchor")
	if got, err := e.Reader().AuditEntries(audit.EntriesRequest{From: 1}); err != nil || got.Entries[0].Seq != 1 {
		t.Fatalf("before any anchor the chain reads from seq 1: %v", err)
	}

	tx := typestest.GovTx(t, e.Height(), anchorOp(3, h3, 3), "a1", "a2")
	if got := e.CheckTx(tx); got.Code != types.CodeOK {
		t.Fatalf("CheckTx of a valid anchor: %s %s", got.Code.Name(), got.Log)
	}
	res := r.block(tx)
	mustOK(t, res, 0)
	for i, re := range r.es {
		_, err := re.Reader().AuditEntries(audit.EntriesRequest{From: 2})
		if !errors.Is(err, ErrPruned) || !strings.Contains(err.Error(), "lowest readable entry is seq 3") {
			t.Fatalf("replica %d: read below the floor: %v, want ErrPruned naming seq 3", i, err)
		}
		page, err := re.Reader().AuditEntries(audit.EntriesRequest{})
		if err != nil || len(page.Entries) == 0 || page.Entries[0].Seq != 3 {
			t.Fatalf("replica %d: reading from 0 starts at %v (%v), want seq 3", i, page.Entries, err)
		}
		if _, ok, err := re.store.Get(auditKey(2), 0); ok || err != nil {
			t.Fatalf("replica %d: entry 2 is still stored (%v)", i, err)
		}
		if err := CheckAudit(re.store); err != nil {
			t.Fatalf("replica %d: start-up check after pruning: %v", i, err)
		}
		if err := audit.VerifyAnchored(page.Entries, audit.ChainHead{Seq: 2, Hash: page.Entries[0].PrevHash}, re.head); err != nil {
			t.Fatalf("replica %d: the chain from the floor does not verify to the head: %v", i, err)
		}
		last := page.Entries[len(page.Entries)-1]
		if !audit.PrunedBy(&last, 3) {
			t.Fatalf("replica %d: the anchor tx's entry %+v does not record the prune below 3", i, last)
		}
	}

	r.refused(typestest.GovTx(t, e.Height(), anchorOp(0, nil, 4), "a1", "a2"), types.CodeAuditPrune, "prune above the recorded anchor")
	r.refused(typestest.GovTx(t, e.Height(), anchorOp(2, entryHash(t, e, 3), 0), "a1", "a2"), types.CodeAuditAnchor, "anchor below the recorded one")
	h5 := entryHash(t, e, 5)
	mustOK(t, r.block(typestest.GovTx(t, e.Height(), anchorOp(5, h5, 0), "a2", "a3")), 0)
	if rec, _ := e.readAnchor(nil); rec.Seq != 5 || rec.Floor != 3 {
		t.Fatalf("a new anchor without prune_below: record %+v, want seq 5 floor 3", rec)
	}
	mustOK(t, r.block(typestest.GovTx(t, e.Height(), anchorOp(0, nil, 5), "a1", "a3")), 0)
	if page, err := e.Reader().AuditEntries(audit.EntriesRequest{}); err != nil || page.Entries[0].Seq != 5 {
		t.Fatalf("after pruning below the recorded anchor 5 the chain reads from %v (%v)", page.Entries, err)
	}
	ps := e.store
	reopened, err := NewEngine(ps, NewCachedVerifier(16))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(reopened.appHash, e.appHash) || CheckAudit(ps) != nil {
		t.Fatalf("reopened engine: app hash %X, want %X; check %v", reopened.appHash, e.appHash, CheckAudit(ps))
	}
}

// auditAnchorTx is a governance tx of one AuditAnchor op signed by one to
// three of the org admins (k = 2): it anchors a committed entry of the
// reference replica, with its hash or (now and then) a wrong one, and
// prunes below a random seq up to it, above it now and then (refused), or
// not at all.
func (w *workload) auditAnchorTx(t testing.TB, height uint64) []byte {
	op := w.auditAnchorOp()
	w.anchorNonce++
	return w.signedGovTx(t, w.arng, 1<<40+w.anchorNonce, height, op)
}

func (w *workload) auditAnchorOp() types.Op {
	page, err := w.ref.Reader().AuditEntries(audit.EntriesRequest{Limit: 1})
	lowest, head := uint64(1), w.ref.head.Seq
	if err == nil && len(page.Entries) > 0 {
		lowest = page.Entries[0].Seq
	}
	seq := lowest + uint64(w.arng.Int63n(int64(max(head, lowest)-lowest)+1))
	var hash []byte
	if got, err := w.ref.Reader().AuditEntries(audit.EntriesRequest{From: seq, Limit: 1}); err == nil && len(got.Entries) == 1 {
		hash = got.Entries[0].Hash
	} else {
		hash = make([]byte, 32)
	}
	if w.arng.Intn(4) == 0 {
		hash = bytes.Clone(hash)
		hash[0] ^= 1
	}
	below := uint64(0)
	switch w.arng.Intn(4) {
	case 0, 1:
		below = 1 + uint64(w.arng.Int63n(int64(seq)))
	case 2:
		below = seq + 1
	}
	return anchorOp(seq, hash, below)[0]
}

// agreeOnAuditFloor: every replica has the same lowest readable audit
// entry and refuses a read below it alike.
func agreeOnAuditFloor(t *testing.T, engines []*Engine, h uint64) {
	t.Helper()
	lowest := func(e *Engine) uint64 {
		page, err := e.Reader().AuditEntries(audit.EntriesRequest{Limit: 1})
		if err != nil {
			t.Fatalf("height %d: lowest audit entry: %v", h, err)
		}
		if len(page.Entries) == 0 {
			return 0
		}
		return page.Entries[0].Seq
	}
	want := lowest(engines[0])
	for i, e := range engines[1:] {
		if got := lowest(e); got != want {
			t.Fatalf("height %d: engine %d reads the audit chain from seq %d, engine 0 from %d", h, i+1, got, want)
		}
		if want > 1 {
			if _, err := e.Reader().AuditEntries(audit.EntriesRequest{From: want - 1}); !errors.Is(err, ErrPruned) {
				t.Fatalf("height %d: engine %d read below the audit floor %d: %v", h, i+1, want, err)
			}
		}
	}
}

func logAuditFloor(t *testing.T, seed int64, e *Engine) {
	rec, err := e.readAnchor(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seed %d: audit anchor at entry %d (of %d), pruned below %d", seed, rec.Seq, e.head.Seq, rec.Floor)
}

// TestSnapshotOfPrunedAuditChain: a snapshot taken after the audit chain
// was pruned holds the entries from the prune point, verifies against the
// signed app hash (the prune point is in the digested state), is refused
// with its first kept entry left out, and restores a replica that reads
// the chain from the same entry.
func TestSnapshotOfPrunedAuditChain(t *testing.T) {
	src := newRetentionChain(t, types.Params{SnapshotInterval: 5}, storage.NewInMemoryStore())
	for range 6 { // entries to prune: refused governance txs (one org)
		runBlock(t, src, typestest.GovTx(t, src.Height(), []types.Op{typestest.AddValidator("val9", 1, "org0")}, "signer1"))
	}
	h4 := entryHash(t, src, 4)
	mustOK(t, runBlock(t, src, typestest.GovTx(t, src.Height(), anchorOp(4, h4, 4), "signer0", "signer1")), 0)
	hashes := map[uint64][]byte{}
	for src.Reader().LastSnapshotHeight() <= 7 {
		res := runBlock(t, src, typestest.GovTx(t, src.Height(), []types.Op{typestest.Put("d0/k", "v")}, "signer0"))
		hashes[src.Height()] = res.AppHash
	}
	s, err := ExportSnapshot(src.store, 0)
	if err != nil {
		t.Fatal(err)
	}
	trusted := hashes[s.Height]
	if err := VerifySnapshot(s, trusted); err != nil {
		t.Fatalf("snapshot of a pruned audit chain: %v", err)
	}
	firstAudit := slices.IndexFunc(s.Entries, func(e storage.Entry) bool { return e.Key[0] == nsAudit })
	if !bytes.Equal(s.Entries[firstAudit].Key, auditKey(4)) {
		t.Fatalf("the snapshot's first audit entry is %X, want seq 4", s.Entries[firstAudit].Key)
	}
	bad, _ := DecodeSnapshot(s.Encode())
	bad.Entries = slices.Delete(bad.Entries, firstAudit, firstAudit+1)
	if err := VerifySnapshot(bad, trusted); !errors.Is(err, ErrSnapshot) {
		t.Fatalf("snapshot without the first kept audit entry: %v, want ErrSnapshot", err)
	}
	replica, err := NewEngine(storage.NewInMemoryStore(), PlainVerifier{})
	if err != nil {
		t.Fatal(err)
	}
	if err := replica.Restore(s); err != nil {
		t.Fatal(err)
	}
	if page, err := replica.Reader().AuditEntries(audit.EntriesRequest{Limit: 1}); err != nil || page.Entries[0].Seq != 4 {
		t.Fatalf("the restored replica reads the audit chain from %v (%v), want seq 4", page.Entries, err)
	}
	if err := CheckAudit(replica.store); err != nil {
		t.Fatalf("start-up check of the restored replica: %v", err)
	}
}

// TestAuditPruneResumesAfterCrash: the Commit that raises the audit floor
// fails to drop the entries (a storage fault after its batch is durable,
// as a crash would leave it); the node halts with the error, and the
// engine reopened on the store drops them and passes the start-up check.
func TestAuditPruneResumesAfterCrash(t *testing.T) {
	fs := storage.NewFaultyStore(storage.NewInMemoryStore())
	e := newChain(t, fs, threeOrgs(), "val1", "val2", "val3")
	for i := range 4 {
		runBlock(t, e, typestest.GovTx(t, e.Height(), []types.Op{typestest.AddValidator("val4", int64(10+i), "org1")}, "a1"))
	}
	tx := typestest.GovTx(t, e.Height(), anchorOp(3, entryHash(t, e, 3), 3), "a1", "a2")
	if _, err := e.FinalizeBlock(Block{Height: e.Height() + 1, Txs: [][]byte{tx}}); err != nil {
		t.Fatal(err)
	}
	fs.Inject(storage.FaultPrune, 0)
	if err := e.Commit(); err == nil {
		t.Fatal("Commit succeeded although dropping the pruned audit entries failed")
	}
	fs.Heal()
	if _, ok, _ := fs.Get(auditKey(1), 0); !ok {
		t.Fatal("entry 1 is gone although the drop failed")
	}
	reopened, err := NewEngine(fs, NewCachedVerifier(16))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := fs.Get(auditKey(2), 0); ok {
		t.Fatal("the reopened engine left entry 2 below the audit floor")
	}
	if err := CheckAudit(fs); err != nil {
		t.Fatalf("start-up check after the resumed prune: %v", err)
	}
	if page, err := reopened.Reader().AuditEntries(audit.EntriesRequest{Limit: 1}); err != nil || page.Entries[0].Seq != 3 {
		t.Fatalf("the reopened engine reads from %v (%v), want seq 3", page.Entries, err)
	}
}
