package engine

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// TestBlockWithForgedSignaturesAcrossChunks: a block of 1,300 txs (three
// batch chunks, checked in the background while the first txs execute)
// with forged signatures at the first, a middle and the last position and
// in a tx the CheckTx cache saw in its good form. Exactly the forged txs
// fail with BAD_SIGNATURE, in place, whichever verifier runs, and the
// engines agree on every result and the app hash.
func TestBlockWithForgedSignaturesAcrossChunks(t *testing.T) {
	const n = 1300
	signers := []string{"alice", "bob", "carol"}
	txs := make([][]byte, n)
	for i := range txs {
		body := types.TxBody{ChainId: typestest.Chain, Nonce: uint64(i + 1), ValidUntilHeight: 20,
			Ops: []types.Op{typestest.Put(fmt.Sprintf("acct/%d", i), "v")}}
		txs[i] = typestest.SignTx(t, &body, typestest.Key(signers[i%len(signers)]))
	}
	forged := map[int]bool{0: true, 511: true, 512: true, 700: true, n - 1: true}
	goodOf700 := txs[700]
	for i := range forged {
		txs[i] = forgeSignature(t, txs[i])
	}
	plain := newTestEngine(t, storage.NewInMemoryStore(), PlainVerifier{})
	cached := newTestEngine(t, storage.NewInMemoryStore(), NewCachedVerifier(4*n))
	for i, tx := range txs[:600] { // CheckTx warms part of the caches
		cached.CheckTx(tx)
		if i == 0 {
			cached.CheckTx(goodOf700)
		}
	}
	resP := runBlock(t, plain, txs...)
	resC := runBlock(t, cached, txs...)
	for i := range txs {
		want := types.CodeOK
		if forged[i] {
			want = types.CodeBadSignature
		}
		for name, res := range map[string]*BlockResult{"plain": resP, "cached": resC} {
			if got := res.Txs[i].Code; got != want {
				t.Fatalf("%s verifier, tx %d: %s, want %s (%s)", name, i, got, want, res.Txs[i].Log)
			}
		}
		if !bytes.Equal(resP.Txs[i].Result, resC.Txs[i].Result) {
			t.Fatalf("tx %d: results differ between the verifiers", i)
		}
	}
	if !bytes.Equal(resP.AppHash, resC.AppHash) {
		t.Fatalf("app hashes differ: %x, %x", resP.AppHash, resC.AppHash)
	}
}

// forgeSignature flips one bit of tx's first signature.
func forgeSignature(t *testing.T, txBytes []byte) []byte {
	t.Helper()
	var tx types.Tx
	if err := tx.Unmarshal(txBytes); err != nil {
		t.Fatal(err)
	}
	tx.Signatures[0].Signature[7] ^= 0x10
	out, err := tx.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return out
}
