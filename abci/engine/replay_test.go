package engine

import (
	"encoding/json"
	"testing"

	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// TestReplayIndexWindow: the in-memory replay index answers like the
// stored tx records inside the window, forgets hashes that can no longer be
// valid, and is rebuilt identically after a restart.
func TestReplayIndexWindow(t *testing.T) {
	g := DefaultGenesisState()
	g.Params.TxWindow = 3
	state, _ := json.Marshal(g)
	store := storage.NewInMemoryStore()
	e, err := NewEngine(store, PlainVerifier{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.InitChain(typestest.Chain, state); err != nil {
		t.Fatal(err)
	}
	alice := typestest.Key("alice")
	body := &types.TxBody{ChainId: typestest.Chain, Nonce: 1, ValidUntilHeight: 3, Ops: []types.Op{typestest.Put("k", "v")}}
	tx := typestest.SignTx(t, body, alice)
	bodyBytes, _ := body.Marshal()
	id := types.ReplayID(typestest.Chain, bodyBytes)
	if res := runBlock(t, e, tx); res.Txs[0].Code != types.CodeOK {
		t.Fatal(res.Txs[0].Log)
	}
	for h := 2; h <= 3; h++ {
		if out := e.CheckTx(tx); out.Code != types.CodeReplay {
			t.Fatalf("height %d: replay got %s", h, out.Code)
		}
		if res := runBlock(t, e, tx); res.Txs[0].Code != types.CodeReplay {
			t.Fatalf("height %d: replay in a block got %s", h, res.Txs[0].Code)
		}
		if re, err := NewEngine(store, PlainVerifier{}); err != nil || !re.replay.has(id) {
			t.Fatalf("height %d: a restarted engine forgot the tx (%v)", h, err)
		}
	}
	// Past valid_until the tx is expired whatever the index says, and the
	// index lets go of it once no replay could be valid.
	for range 4 {
		runBlock(t, e)
	}
	if out := e.CheckTx(tx); out.Code != types.CodeExpired {
		t.Fatalf("after the window: %s", out.Code)
	}
	if e.replay.has(id) || len(e.replay.seen) != 0 {
		t.Fatalf("index still holds %d hashes after the window", len(e.replay.seen))
	}
	re, err := NewEngine(store, PlainVerifier{})
	if err != nil || len(re.replay.seen) != 0 {
		t.Fatalf("restarted index holds %d hashes (%v)", len(re.replay.seen), err)
	}
}
