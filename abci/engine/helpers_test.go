package engine

import (
	"testing"

	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// newTestEngine opens an engine on store, initialised with the default
// genesis when the store holds no chain yet.
func newTestEngine(t testing.TB, store storage.Store, v Verifier) *Engine {
	t.Helper()
	return openEngine(t, store, v, nil)
}

// openEngine opens an engine on store and, when the store holds no chain
// yet, initialises it with genesis state and validators vals.
func openEngine(t testing.TB, store storage.Store, v Verifier, state []byte, vals ...Validator) *Engine {
	t.Helper()
	e, err := NewEngine(store, v)
	if err != nil {
		t.Fatal(err)
	}
	if !e.Initialised() {
		if _, err := e.InitChain(typestest.Chain, state, vals...); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// runBlock finalizes and commits txs as the next block.
func runBlock(t testing.TB, e *Engine, txs ...[]byte) *BlockResult {
	t.Helper()
	h := e.Height() + 1
	res, err := e.FinalizeBlock(Block{Height: h, Txs: txs})
	if err != nil {
		t.Fatalf("finalize %d: %v", h, err)
	}
	if err := e.Commit(); err != nil {
		t.Fatalf("commit %d: %v", h, err)
	}
	return res
}

func mustOK(t *testing.T, res *BlockResult, i int) {
	t.Helper()
	if res.Txs[i].Code != types.CodeOK {
		t.Fatalf("tx %d: %s %s", i, res.Txs[i].Code.Name(), res.Txs[i].Log)
	}
}

func wantCode(t *testing.T, res *BlockResult, want types.Code, what string) {
	t.Helper()
	if got := res.Txs[0].Code; got != want {
		t.Fatalf("%s: want %s, got %s %q", what, want.Name(), got.Name(), res.Txs[0].Log)
	}
}
