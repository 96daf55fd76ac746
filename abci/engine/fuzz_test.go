package engine

import (
	"bytes"
	"testing"

	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// FuzzCheckTx: CheckTx never panics, answers with a defined code, accepts
// only well-signed txs, and never changes state.
func FuzzCheckTx(f *testing.F) {
	e := newTestEngine(f, storage.NewInMemoryStore(), NewCachedVerifier(256))
	alice := typestest.Key("alice")
	good := typestest.SignTx(f, &types.TxBody{ChainId: typestest.Chain, Nonce: 1, ValidUntilHeight: 5, Ops: []types.Op{typestest.Put("k", "v")}}, alice)
	runBlock(f, e, good)
	f.Add(good)
	f.Add(typestest.SignTx(f, &types.TxBody{ChainId: typestest.Chain, Nonce: 2, ValidUntilHeight: 5, Ops: []types.Op{typestest.Check("k", types.Version{Height: 1}), typestest.Delete("k")}}, alice))
	f.Add([]byte{})
	f.Add([]byte("not a tx"))
	hash := e.AppHash()
	known := map[types.Code]bool{}
	for _, c := range types.Codes() {
		known[c] = true
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out := e.CheckTx(data)
		if !known[out.Code] {
			t.Fatalf("undefined code %d", out.Code)
		}
		if out.Code != types.CodeOK && out.Log == "" {
			t.Fatalf("code %s without a message", out.Code)
		}
		if out.Code == types.CodeOK {
			tx, body, err := types.DecodeTx(data)
			if err != nil || len(tx.Signatures) == 0 || body.ChainId != typestest.Chain {
				t.Fatalf("accepted a tx that does not decode or is unsigned: %v", err)
			}
		}
		if !bytes.Equal(e.AppHash(), hash) || e.Height() != 1 {
			t.Fatal("CheckTx changed state")
		}
	})
}
