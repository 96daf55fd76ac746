package engine

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

func timedBlock(t *testing.T, e *Engine, at time.Time, txs ...[]byte) *BlockResult {
	t.Helper()
	h := e.Height() + 1
	res, err := e.FinalizeBlock(Block{Height: h, Time: at, Txs: txs})
	if err != nil {
		t.Fatalf("finalize %d: %v", h, err)
	}
	if err := e.Commit(); err != nil {
		t.Fatalf("commit %d: %v", h, err)
	}
	return res
}

// TestCommitTime: block 1 carries a tx after a long idle spell, so its own
// (BFT) time is old; block 2, the proof block, carries block 1's commit
// time. Entries get it as CommitTime (not hashed, app hash unchanged by
// the record), and the sinks' source serves them only from then on.
func TestCommitTime(t *testing.T) {
	store := storage.NewInMemoryStore()
	e := newTestEngine(t, store, PlainVerifier{})
	idle := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC) // the last commit before the idle spell
	commit := idle.Add(time.Minute)                      // block 1's commit: a minute later
	tx := typestest.SignTx(t, &types.TxBody{ChainId: typestest.Chain, Nonce: 1, ValidUntilHeight: 10, Ops: []types.Op{typestest.Put("k", "v")}}, typestest.Key("alice"))
	mustOK(t, timedBlock(t, e, idle, tx), 0)
	src := NewAuditSource(store)
	ctx := context.Background()
	if h, _ := src.Head(ctx); h.Seq != 0 {
		t.Fatalf("settled head %s before the proof block", h)
	}
	r, err := e.Reader().AuditEntries(audit.EntriesRequest{})
	if err != nil || len(r.Entries) != 1 || !r.Entries[0].CommitTime.IsZero() {
		t.Fatalf("entries before the proof block: %+v %v", r.Entries, err)
	}
	if _, src := r.Entries[0].EventTime(); src != audit.TimeBlock {
		t.Fatalf("time source %s", src)
	}
	appHash := e.AppHash()
	timedBlock(t, e, commit) // the proof block: no txs
	if !bytes.Equal(e.AppHash(), appHash) {
		t.Fatal("the commit-time record changed the app hash")
	}
	r, err = e.Reader().AuditEntries(audit.EntriesRequest{})
	if err != nil || len(r.Entries) != 1 {
		t.Fatalf("entries: %+v %v", r.Entries, err)
	}
	got := r.Entries[0]
	if !got.Time.Equal(idle) || !got.CommitTime.Equal(commit) {
		t.Fatalf("time %v commit time %v, want %v and %v", got.Time, got.CommitTime, idle, commit)
	}
	if at, src := got.EventTime(); src != audit.TimeCommit || !at.Equal(commit) {
		t.Fatalf("event time %v (%s)", at, src)
	}
	if h, _ := src.Head(ctx); !h.Equal(r.Head) {
		t.Fatalf("settled head %s, committed %s", h, r.Head)
	}
	es, err := src.Entries(ctx, 1, 0)
	if err != nil || len(es) != 1 || !es[0].CommitTime.Equal(commit) {
		t.Fatalf("sink source: %+v %v", es, err)
	}
	// An empty block after the proof block records nothing new.
	timedBlock(t, e, commit.Add(time.Second))
	if ent, ok, _ := store.Get(commitTimeKey(2), 0); ok {
		t.Fatalf("commit time recorded for the empty block: %+v", ent)
	}
	// A reopened engine knows which block holds the head.
	e2, err := NewEngine(store, PlainVerifier{})
	if err != nil || e2.headHeight != 1 {
		t.Fatalf("reopened: head height %d, %v", e2.headHeight, err)
	}
}

// TestCheckAudit: the stored chain passes as written; an edited entry, a
// deleted entry or an edited head record is ErrStoreMismatch.
func TestCheckAudit(t *testing.T) {
	if err := CheckAudit(storage.NewInMemoryStore()); err != nil {
		t.Fatalf("empty store: %v", err)
	}
	build := func() storage.Store {
		store := storage.NewInMemoryStore()
		e := newTestEngine(t, store, PlainVerifier{})
		if err := CheckAudit(store); err != nil {
			t.Fatalf("genesis: %v", err)
		}
		for i := range 3 {
			timedBlock(t, e, time.Unix(int64(100+i), 0), typestest.SignTx(t, &types.TxBody{ChainId: typestest.Chain, Nonce: uint64(i + 1), ValidUntilHeight: 10, Ops: []types.Op{typestest.Put("k", "v")}}, typestest.Key("alice")))
		}
		if err := CheckAudit(store); err != nil {
			t.Fatalf("untouched: %v", err)
		}
		return store
	}
	// Tampering goes in as a later batch (the in-memory store has no raw
	// access); the check reads the latest versions.
	tamper := func(store storage.Store, w storage.Entry) {
		h, app, _ := store.Last()
		w.Version = storage.Version{Height: h + 1}
		if err := store.Commit(storage.Batch{Height: h + 1, AppHash: app, Writes: []storage.Entry{w}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		edit func(store storage.Store) storage.Entry
	}{
		{"edited entry", func(store storage.Store) storage.Entry {
			ent, _, _ := store.Get(auditKey(2), 0)
			a, _ := audit.Decode(ent.Value)
			a.Actor = "someone else"
			return storage.Entry{Key: auditKey(2), Value: a.Encode()}
		}},
		{"garbled entry", func(storage.Store) storage.Entry { return storage.Entry{Key: auditKey(1), Value: []byte{1, 2, 3}} }},
		{"deleted entry", func(storage.Store) storage.Entry { return storage.Entry{Key: auditKey(3), Deleted: true} }},
		{"edited head", func(store storage.Store) storage.Entry {
			ent, _, _ := store.Get(headKey, 0)
			state, head, _ := decodeHeadRecord(ent.Value)
			head.Seq--
			return storage.Entry{Key: headKey, Value: encodeHeadRecord(state, head)}
		}},
	} {
		store := build()
		tamper(store, tc.edit(store))
		if err := CheckAudit(store); !errors.Is(err, audit.ErrStoreMismatch) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// BenchmarkCheckAudit: the start-up check over a Pebble store holding
// 100,000 audit entries (docs/AUDIT.md reports the figure). Entries go in
// directly, 10,000 per batch, as blocks would write them.
func BenchmarkCheckAudit(b *testing.B) {
	const n, perBlock = 100_000, 10_000
	store, err := storage.NewPebbleStore(b.TempDir(), storage.DefaultPebbleOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	chain := audit.NewChain(audit.ChainHead{})
	state := []byte("state hash")
	for h := uint64(1); h <= n/perBlock; h++ {
		var writes []storage.Entry
		for i := range perBlock {
			ent, enc := chain.AppendEncoded(audit.Entry{Height: h, TxIndex: uint32(i), Time: time.Unix(int64(h), 0),
				Kind: audit.KindTxCommitted, Actor: "7dde212e63ce339ca2706e1e0c025d114c2becc8", Action: "put",
				Resources: []string{"accounts/0001"}, CodeName: "OK", TxHash: bytes.Repeat([]byte{1}, 32)})
			writes = append(writes, storage.Entry{Key: auditKey(ent.Seq), Value: enc, Version: storage.Version{Height: h, Index: uint32(i)}})
		}
		writes = append(writes, storage.Entry{Key: headKey, Value: encodeHeadRecord(state, chain.Head()), Version: storage.Version{Height: h}})
		if err := store.Commit(storage.Batch{Height: h, AppHash: audit.AppHash(state, chain.Head()), Writes: writes}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		if err := CheckAudit(store); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/entry")
}
