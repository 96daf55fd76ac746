package abci

import (
	"encoding/json"
	"testing"

	"github.com/dstt/dstt/abci/engine"
	"github.com/dstt/dstt/rbac"
	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// The adapter's tests build their engine through engine's exported API,
// as the node assembler does; these helpers mirror engine's own.

const testChain = "test-chain"

// testKey and signTx are typestest's: one key derivation for every test.
var (
	testKey = typestest.Key
	signTx  = typestest.SignTx
)

func addr(name string) string { return types.Address(testKey(name).PubKey()) }

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
	if _, err := e.InitChain(testChain, state); err != nil {
		t.Fatal(err)
	}
	return e
}

var nonces uint64

// govTx is a tx of ops signed by the named test keys, valid for 10 blocks.
func govTx(t *testing.T, e *engine.Engine, ops []types.Op, signers ...string) []byte {
	t.Helper()
	nonces++
	body := &types.TxBody{ChainId: testChain, Nonce: nonces, ValidUntilHeight: e.Height() + 10, Ops: ops}
	var ss []security.Signer
	for _, s := range signers {
		ss = append(ss, testKey(s))
	}
	return signTx(t, body, ss...)
}

func putOp(k, v string) types.Op {
	return types.Op{Sum: &types.Op_Put{Put: &types.Put{Key: k, Value: []byte(v)}}}
}

func policyOp(r rbac.Rule, remove bool) types.Op {
	return types.Op{Sum: &types.Op_Policy{Policy: &types.PolicyRule{Subject: r.Subject, Domain: r.Domain, Object: r.Object, Action: r.Action, Deny: r.Deny, Remove: remove}}}
}

func grantOp(sub, role, dom string) types.Op {
	return types.Op{Sum: &types.Op_Grant{Grant: &types.Grant{Subject: sub, Role: role, Domain: dom}}}
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
