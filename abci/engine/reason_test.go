package engine

import (
	"bytes"
	"encoding/json"
	"maps"
	"reflect"
	"testing"

	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// TestRewordingKeepsAppHash runs the same seeded blocks on two engines, the
// second with every human message reworded (the validator's log and the
// rendered status answers): app hashes, stored results (ExecTxResult.data)
// and audit heads stay identical, while the words differ.
func TestRewordingKeepsAppHash(t *testing.T) {
	w := newWorkload(11)
	genesis, vals := w.genesis()
	state, err := json.Marshal(genesis)
	if err != nil {
		t.Fatal(err)
	}
	engines := make([]*Engine, 2)
	for i := range engines {
		if engines[i], err = NewEngine(storage.NewInMemoryStore(), PlainVerifier{}); err != nil {
			t.Fatal(err)
		}
		if _, err := engines[i].InitChain(typestest.Chain, state, vals...); err != nil {
			t.Fatal(err)
		}
	}
	w.ref = engines[0]
	origFail, origRules := failText, ruleText
	reword := func() {
		failText = func(c types.Code, detail string) string { return "REWORDED " + c.Name() + " / " + detail }
		ruleText = map[string]func(*types.Reason) string{}
		for k := range maps.Keys(origRules) {
			ruleText[k] = func(r *types.Reason) string { return "reworded rule " + r.Rule }
		}
	}
	restore := func() { failText, ruleText = origFail, origRules }
	defer restore()
	versions := func(k string) (v types.Version) {
		if kv, err := engines[0].Reader().Get(k, 0); err == nil {
			v = kv.Version
		}
		return v
	}
	var failedHashes [][]byte
	differ := 0
	for h := uint64(1); h <= 30; h++ {
		b := w.block(t, h, versions)
		res := make([]*BlockResult, 2)
		for i, e := range engines {
			if i == 1 {
				reword()
			}
			if res[i], err = e.FinalizeBlock(b); err != nil {
				t.Fatal(err)
			}
			if err := e.Commit(); err != nil {
				t.Fatal(err)
			}
			restore()
		}
		if !bytes.Equal(res[0].AppHash, res[1].AppHash) {
			t.Fatalf("height %d: rewording changed the app hash: %X vs %X", h, res[0].AppHash, res[1].AppHash)
		}
		for j := range res[0].Txs {
			a, b := res[0].Txs[j], res[1].Txs[j]
			if !bytes.Equal(a.Result, b.Result) {
				t.Fatalf("height %d tx %d: rewording changed ExecTxResult.data", h, j)
			}
			if a.Code != types.CodeOK {
				if a.Log == b.Log {
					t.Fatalf("height %d tx %d: the log was not reworded: %q", h, j, a.Log)
				}
				differ++
				if a.Reason != nil {
					failedHashes = append(failedHashes, a.Hash)
				}
			}
		}
	}
	if differ == 0 || len(failedHashes) == 0 {
		t.Fatalf("%d reworded logs, %d stored failures: the workload must fail txs", differ, len(failedHashes))
	}
	// A status answer is rendered when it is asked for, from stored data.
	for _, hash := range failedHashes {
		plain, err := engines[1].Reader().TxResult(hash)
		if err != nil {
			t.Fatal(err)
		}
		reword()
		reworded, err := engines[1].Reader().TxResult(hash)
		restore()
		if err != nil {
			t.Fatal(err)
		}
		if plain.Log == reworded.Log || plain.Log == "" {
			t.Fatalf("status of %X: log %q, reworded %q", hash, plain.Log, reworded.Log)
		}
	}
	a, aerr := engines[0].Reader().AuditHead(0)
	b, berr := engines[1].Reader().AuditHead(0)
	if aerr != nil || berr != nil || !a.Head.Equal(b.Head) || !bytes.Equal(a.StateHash, b.StateHash) {
		t.Fatalf("audit heads differ: %v vs %v (%v, %v)", a.Head, b.Head, aerr, berr)
	}
}

// TestStoredResultHasNoWords: the stored result of a failed tx holds the
// code and the reason as data, with an empty log; the status answer renders
// the words from them.
func TestStoredResultHasNoWords(t *testing.T) {
	e := newTestEngine(t, storage.NewInMemoryStore(), PlainVerifier{})
	alice := typestest.Key("alice")
	mustOK(t, runBlock(t, e, typestest.SignTx(t, &types.TxBody{ChainId: typestest.Chain, Nonce: 1, ValidUntilHeight: 5, Ops: []types.Op{typestest.Put("a", "1")}}, alice)), 0)
	tx := typestest.SignTx(t, &types.TxBody{ChainId: typestest.Chain, Nonce: 2, ValidUntilHeight: 5, Ops: []types.Op{typestest.Put("b", "1"), typestest.Check("a", types.Version{Height: 9})}}, alice)
	res := runBlock(t, e, tx)
	out := res.Txs[0]
	if out.Code != types.CodeConflict {
		t.Fatalf("code %s", out.Code.Name())
	}
	var stored types.TxResult
	ent, ok, err := e.store.Get(txKey(out.Hash), 0)
	if err != nil || !ok {
		t.Fatalf("stored result: %v %v", ok, err)
	}
	if err := stored.Unmarshal(ent.Value); err != nil {
		t.Fatal(err)
	}
	want := types.Reason{Rule: ruleVersionMismatch, Op: 2, Subject: "a", Expected: &types.Version{Height: 9}, Actual: &types.Version{Height: 1}}
	if stored.Log != "" || stored.Reason == nil || !reflect.DeepEqual(*stored.Reason, want) || !bytes.Equal(ent.Value, out.Result) {
		t.Fatalf("stored %+v (reason %+v); want no log and reason %+v, the same bytes as ExecTxResult.data", stored, stored.Reason, want)
	}
	r, err := e.Reader().TxResult(out.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if wantLog := `conflict: a checked key changed: op 1: key "a" is at version 1.0, the tx expected 9.0`; r.Log != wantLog {
		t.Fatalf("rendered log %q, want %q", r.Log, wantLog)
	}
}
