package engine

import (
	"testing"

	"github.com/dstt/dstt/rbac"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

const testChain = "test-chain"

// testKey and signTx are typestest's: one key derivation for every test.
var (
	testKey = typestest.Key
	signTx  = typestest.SignTx
)

func newTestEngine(t testing.TB, store storage.Store, v Verifier) *Engine {
	t.Helper()
	e, err := NewEngine(store, v)
	if err != nil {
		t.Fatal(err)
	}
	if !e.Initialised() {
		if _, err := e.InitChain(testChain, nil); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func putOp(k, v string) types.Op {
	return types.Op{Sum: &types.Op_Put{Put: &types.Put{Key: k, Value: []byte(v)}}}
}

func deleteOp(k string) types.Op {
	return types.Op{Sum: &types.Op_Delete{Delete: &types.Delete{Key: k}}}
}

func checkOp(k string, v types.Version) types.Op {
	return types.Op{Sum: &types.Op_Check{Check: &types.Check{Key: k, Version: v}}}
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

func policyOp(r rbac.Rule, remove bool) types.Op {
	return types.Op{Sum: &types.Op_Policy{Policy: &types.PolicyRule{Subject: r.Subject, Domain: r.Domain, Object: r.Object, Action: r.Action, Deny: r.Deny, Remove: remove}}}
}

func grantOp(sub, role, dom string) types.Op {
	return types.Op{Sum: &types.Op_Grant{Grant: &types.Grant{Subject: sub, Role: role, Domain: dom}}}
}

func revokeOp(sub, role, dom string) types.Op {
	return types.Op{Sum: &types.Op_Revoke{Revoke: &types.Revoke{Subject: sub, Role: role, Domain: dom}}}
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
