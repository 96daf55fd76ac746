package abci

import (
	"slices"
	"testing"

	"github.com/dstt/dstt/rbac"
	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
)

// TestQueryBetweenFinalizeAndCommit: a block's grant and key rotation are
// not effective for reads (App.Query, CanRead, Check, Policy, resolve)
// until the Commit that persists them.
func TestQueryBetweenFinalizeAndCommit(t *testing.T) {
	g := DefaultGenesisState()
	g.Admins = []string{addr("root")}
	e := newChain(t, storage.NewInMemoryStore(), g)
	app := NewApp(e, nil)
	mustOK(t, runBlock(t, e, govTx(t, e, []types.Op{putOp("bank1/x", "1")}, "root")), 0)

	rotate, err := security.RotateKeyOp(testChain, testKey("carol").PubKey(), testKey("carol2"))
	if err != nil {
		t.Fatal(err)
	}
	grant := govTx(t, e, []types.Op{
		policyOp(rbac.Rule{Subject: "reader", Domain: "bank1", Object: "bank1/*", Action: rbac.ActRead}, false),
		grantOp(addr("alice"), "reader", "bank1"),
	}, "root")
	rot := govTx(t, e, []types.Op{rotate}, "carol")
	res, err := e.FinalizeBlock(Block{Height: e.Height() + 1, Txs: [][]byte{grant, rot}})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, res, 0)
	mustOK(t, res, 1)

	hasGrant := func() bool {
		return slices.Contains(e.Policy().Grants(), rbac.Grant{Subject: addr("alice"), Role: "reader", Domain: "bank1"})
	}
	check := func() bool {
		r, err := e.Check(addr("root"), types.CheckRequest{Subject: addr("alice"), Action: rbac.ActRead, Key: "bank1/x"})
		if err != nil {
			t.Fatal(err)
		}
		return r.Allowed
	}
	n := uint64(0)
	read := func() types.Code {
		n++
		return types.Code(signedRead(t, app, testKey("alice"), types.QueryGet, []byte("bank1/x"), n).Code)
	}
	_, carolActs := e.resolve(addr("carol"))
	if c := read(); c != types.CodeUnauthorized || e.CanRead(addr("alice"), "bank1/x") || check() || hasGrant() || !carolActs {
		t.Fatalf("before Commit: read %s, CanRead %v, Check %v, grant listed %v, old key acts %v: the staged block leaked into reads",
			c.Name(), e.CanRead(addr("alice"), "bank1/x"), check(), hasGrant(), carolActs)
	}
	if err := e.Commit(); err != nil {
		t.Fatal(err)
	}
	_, carolActs = e.resolve(addr("carol"))
	if c := read(); c != types.CodeOK || !e.CanRead(addr("alice"), "bank1/x") || !check() || !hasGrant() || carolActs {
		t.Fatalf("after Commit: read %s, CanRead %v, Check %v, grant listed %v, old key acts %v: the committed block is not effective",
			c.Name(), e.CanRead(addr("alice"), "bank1/x"), check(), hasGrant(), carolActs)
	}
}

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
	if e.Policy().IsAdmin(addr("alice"), "bank1") || e.blockPolicy.IsAdmin(addr("alice"), "bank1") {
		t.Fatal("the failed tx's grant stayed in the policy")
	}
}
