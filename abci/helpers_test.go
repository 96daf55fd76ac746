package abci

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"testing"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/dstt/dstt/abci/engine"
	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// The adapter's tests build their engine through engine's exported API,
// as the node assembler does; keys, ops and signed txs are typestest's.

// newChain starts an engine on an in-memory store with genesis g.
func newChain(t *testing.T, g engine.GenesisState) *engine.Engine {
	t.Helper()
	e, err := engine.NewEngine(storage.NewInMemoryStore(), engine.PlainVerifier{})
	if err != nil {
		t.Fatal(err)
	}
	state, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.InitChain(typestest.Chain, state); err != nil {
		t.Fatal(err)
	}
	return e
}

// runBlock finalizes and commits txs as the next block.
func runBlock(t testing.TB, e *engine.Engine, txs ...[]byte) *engine.BlockResult {
	t.Helper()
	h := e.Height() + 1
	res, err := e.FinalizeBlock(engine.Block{Height: h, Txs: txs})
	if err != nil {
		t.Fatalf("finalize %d: %v", h, err)
	}
	if err := e.Commit(); err != nil {
		t.Fatalf("commit %d: %v", h, err)
	}
	return res
}

func mustOK(t *testing.T, res *engine.BlockResult, i int) {
	t.Helper()
	if res.Txs[i].Code != types.CodeOK {
		t.Fatalf("tx %d: %s %s", i, res.Txs[i].Code.Name(), res.Txs[i].Log)
	}
}

// signedQuery is the wire form of a query by s on the test chain, signed
// now, with nonce n.
func signedQuery(t testing.TB, s security.Signer, path string, data []byte, n uint64) []byte {
	t.Helper()
	ms := time.Now().UnixMilli()
	nonce := make([]byte, types.QueryNonceSize)
	binary.BigEndian.PutUint64(nonce, n)
	sig, err := s.Sign(types.QuerySignBytes(typestest.Chain, path, data, 0, ms, nonce))
	if err != nil {
		t.Fatal(err)
	}
	sq := types.SignedQuery{Path: path, Data: data, TimeUnixMs: ms, PubKey: s.PubKey(), Signature: sig, Nonce: nonce}
	b, err := sq.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// query sends a signed query's wire form through App.Query's whole path
// (signature, replay cache, identity, query switch).
func query(t testing.TB, a *App, data []byte) *abcitypes.ResponseQuery {
	t.Helper()
	res, err := a.Query(context.Background(), &abcitypes.RequestQuery{Path: types.QuerySigned, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// signedRead is query(signedQuery(...)).
func signedRead(t testing.TB, a *App, s security.Signer, path string, data []byte, n uint64) *abcitypes.ResponseQuery {
	t.Helper()
	return query(t, a, signedQuery(t, s, path, data, n))
}
