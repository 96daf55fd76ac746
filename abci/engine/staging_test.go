package engine

import (
	"testing"

	"github.com/dstt/dstt/rbac"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
)

// TestFailedTxLeavesBlockPolicy: a tx whose governance op fails after its
// grant was applied leaves neither copy of the policy changed, and the next
// tx of the block is decided against the policy without it.
func TestFailedTxLeavesBlockPolicy(t *testing.T) {
	g := DefaultGenesisState()
	g.Admins = []string{addr("root")}
	g.Orgs = []types.Org{{ID: "bank1", Admins: []string{addr("root")}}}
	g.Threshold = 1
	e := newChain(t, storage.NewInMemoryStore(), g)
	bad := govTx(t, e, []types.Op{
		grantOp(addr("alice"), rbac.AdminRole, "bank1"),
		{Sum: &types.Op_RemoveOrg{RemoveOrg: &types.RemoveOrg{Id: "nosuch"}}},
	}, "root")
	byAlice := govTx(t, e, []types.Op{putOp("bank1/y", "1")}, "alice")
	res := runBlock(t, e, bad, byAlice)
	if res.Txs[0].Code != types.CodeInvalidOp || res.Txs[1].Code != types.CodeUnauthorized {
		t.Fatalf("codes %s, %s; want INVALID_OP, UNAUTHORIZED", res.Txs[0].Code.Name(), res.Txs[1].Code.Name())
	}
	if e.Reader().Policy().IsAdmin(addr("alice"), "bank1") || e.blockPolicy.IsAdmin(addr("alice"), "bank1") {
		t.Fatal("the failed tx's grant stayed in the policy")
	}
}
