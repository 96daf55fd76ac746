package engine

import (
	"strings"
	"testing"

	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// Attack 1 inside the engine: a proposer that puts re-encoded variants of a
// committed tx into a block gets the block refused by ProcessProposal, and
// FinalizeBlock (if such a block were decided) applies none of them.
func TestAttackReplayVariantsInBlocks(t *testing.T) {
	e := newTestEngine(t, storage.NewInMemoryStore(), PlainVerifier{})
	w := typestest.SignTx(t, &types.TxBody{ChainId: typestest.Chain, Nonce: 7, ValidUntilHeight: 20, Ops: []types.Op{typestest.Put("acct/1", "5")}}, typestest.Key("alice"))
	if res := runBlock(t, e, w); res.Txs[0].Code != types.CodeOK {
		t.Fatal(res.Txs[0].Log)
	}
	runBlock(t, e, typestest.SignTx(t, &types.TxBody{ChainId: typestest.Chain, Nonce: 8, ValidUntilHeight: 20, Ops: []types.Op{typestest.Put("acct/1", "6")}}, typestest.Key("alice")))
	vs := typestest.EnvelopeVariants(w)
	var txs [][]byte
	for _, v := range vs {
		if out := e.CheckTx(v.Bytes); out.Code != types.CodeEncoding && out.Code != types.CodeReplay {
			t.Errorf("CheckTx %s: %s %s", v.Name, out.Code, out.Log)
		}
		if ok, _ := e.ProcessProposal(e.Height()+1, [][]byte{v.Bytes}); ok {
			t.Errorf("ProcessProposal accepted a block with variant %s", v.Name)
		}
		txs = append(txs, v.Bytes)
	}
	res := runBlock(t, e, txs...)
	for i, out := range res.Txs {
		if out.Code == types.CodeOK {
			t.Errorf("FinalizeBlock applied variant %s", vs[i].Name)
		}
	}
	if kv, err := e.Reader().Get("acct/1", 0); err != nil || string(kv.Value) != "6" {
		t.Errorf("acct/1 = %q (%v), want 6", kv.Value, err)
	}
}

// Stripping co-signatures: a governance tx signed by admins of two orgs
// (k=2) reaches the mempool; whoever sees it drops one signature. The
// variant has the same replay identity, so if it could commit (failing,
// for want of approvals) the real tx would become a REPLAY. It is refused
// in CheckTx and kept out of blocks, and the real tx still commits.
func TestAttackStrippedGovSignatures(t *testing.T) {
	e := newChain(t, storage.NewInMemoryStore(), threeOrgs(), "val1", "val2", "val3")
	real := typestest.GovTx(t, e.Height(), []types.Op{typestest.AddValidator("val4", 10, "org3")}, "a1", "a2")
	var stripped []byte
	for _, v := range typestest.EnvelopeVariants(real) {
		if v.Name == "dropped-signature" {
			stripped = v.Bytes
		}
	}
	if stripped == nil {
		t.Fatal("no dropped-signature variant")
	}
	if out := e.CheckTx(stripped); out.Code != types.CodeUnauthorized {
		t.Errorf("CheckTx of the stripped tx: %s %s", out.Code, out.Log)
	}
	if ok, why := e.ProcessProposal(e.Height()+1, [][]byte{stripped}); ok {
		t.Errorf("a block with the stripped tx was accepted")
	} else if !strings.Contains(why, "governance needs") {
		t.Errorf("refused for another reason: %s", why)
	}
	if got := e.PrepareProposal(e.Height()+1, [][]byte{stripped, real}, 0); len(got) != 1 || string(got[0]) != string(real) {
		t.Errorf("PrepareProposal kept %d txs, want only the real one", len(got))
	}
	if res := runBlock(t, e, real); res.Txs[0].Code != types.CodeOK {
		t.Fatalf("the real tx: %s %s", res.Txs[0].Code, res.Txs[0].Log)
	}
}
