package engine

import (
	"testing"

	"github.com/dstt/dstt/rbac"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// TestFailedTxLeavesBlockPolicy: a tx whose governance op fails after its
// grant was applied leaves neither copy of the policy changed, and the next
// tx of the block is decided against the policy without it.
func TestFailedTxLeavesBlockPolicy(t *testing.T) {
	g := DefaultGenesisState()
	g.Admins = []string{typestest.Addr("root")}
	g.Orgs = []types.Org{{ID: "bank1", Admins: []string{typestest.Addr("root")}}}
	g.Threshold = 1
	e := newChain(t, storage.NewInMemoryStore(), g)
	bad := typestest.GovTx(t, e.Height(), []types.Op{
		typestest.Grant(typestest.Addr("alice"), rbac.AdminRole, "bank1"),
		{Sum: &types.Op_RemoveOrg{RemoveOrg: &types.RemoveOrg{Id: "nosuch"}}},
	}, "root")
	byAlice := typestest.GovTx(t, e.Height(), []types.Op{typestest.Put("bank1/y", "1")}, "alice")
	res := runBlock(t, e, bad, byAlice)
	if res.Txs[0].Code != types.CodeInvalidOp || res.Txs[1].Code != types.CodeUnauthorized {
		t.Fatalf("codes %s, %s; want INVALID_OP, UNAUTHORIZED", res.Txs[0].Code.Name(), res.Txs[1].Code.Name())
	}
	if e.Reader().Policy().IsAdmin(typestest.Addr("alice"), "bank1") || e.blockPolicy.IsAdmin(typestest.Addr("alice"), "bank1") {
		t.Fatal("the failed tx's grant stayed in the policy")
	}
}
