package abci

import (
	"slices"
	"testing"

	"github.com/dstt/dstt/abci/engine"
	"github.com/dstt/dstt/rbac"
	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/types"
)

// TestQueryBetweenFinalizeAndCommit: a block's grant and key rotation are
// not effective for reads (App.Query, and the engine Reader's CanRead, Check, Policy and Resolve)
// until the Commit that persists them.
func TestQueryBetweenFinalizeAndCommit(t *testing.T) {
	g := engine.DefaultGenesisState()
	g.Admins = []string{addr("root")}
	e := newChain(t, g)
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
	res, err := e.FinalizeBlock(engine.Block{Height: e.Height() + 1, Txs: [][]byte{grant, rot}})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, res, 0)
	mustOK(t, res, 1)

	hasGrant := func() bool {
		return slices.Contains(e.Reader().Policy().Grants(), rbac.Grant{Subject: addr("alice"), Role: "reader", Domain: "bank1"})
	}
	check := func() bool {
		r, err := e.Reader().Check(addr("root"), types.CheckRequest{Subject: addr("alice"), Action: rbac.ActRead, Key: "bank1/x"})
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
	_, err = e.Reader().Resolve(addr("carol"))
	carolActs := err == nil
	if c := read(); c != types.CodeUnauthorized || e.Reader().CanRead(addr("alice"), "bank1/x") || check() || hasGrant() || !carolActs {
		t.Fatalf("before Commit: read %s, CanRead %v, Check %v, grant listed %v, old key acts %v: the staged block leaked into reads",
			c.Name(), e.Reader().CanRead(addr("alice"), "bank1/x"), check(), hasGrant(), carolActs)
	}
	if err := e.Commit(); err != nil {
		t.Fatal(err)
	}
	_, err = e.Reader().Resolve(addr("carol"))
	carolActs = err == nil
	if c := read(); c != types.CodeOK || !e.Reader().CanRead(addr("alice"), "bank1/x") || !check() || !hasGrant() || carolActs {
		t.Fatalf("after Commit: read %s, CanRead %v, Check %v, grant listed %v, old key acts %v: the committed block is not effective",
			c.Name(), e.Reader().CanRead(addr("alice"), "bank1/x"), check(), hasGrant(), carolActs)
	}
}
