package abci

import (
	"slices"
	"testing"

	"github.com/dstt/dstt/abci/engine"
	"github.com/dstt/dstt/rbac"
	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// TestQueryBetweenFinalizeAndCommit: a block's grant and key rotation are
// not effective for reads (App.Query, and the engine Reader's CanRead, Check, Policy and Resolve)
// until the Commit that persists them.
func TestQueryBetweenFinalizeAndCommit(t *testing.T) {
	g := engine.DefaultGenesisState()
	g.Admins = []string{typestest.Addr("root")}
	e := newChain(t, g)
	app := NewApp(e, nil)
	mustOK(t, runBlock(t, e, typestest.GovTx(t, e.Height(), []types.Op{typestest.Put("bank1/x", "1")}, "root")), 0)

	rotate, err := security.RotateKeyOp(typestest.Chain, typestest.Key("carol").PubKey(), typestest.Key("carol2"))
	if err != nil {
		t.Fatal(err)
	}
	grant := typestest.GovTx(t, e.Height(), []types.Op{
		typestest.Policy(rbac.Rule{Subject: "reader", Domain: "bank1", Object: "bank1/*", Action: rbac.ActRead}, false),
		typestest.Grant(typestest.Addr("alice"), "reader", "bank1"),
	}, "root")
	rot := typestest.GovTx(t, e.Height(), []types.Op{rotate}, "carol")
	res, err := e.FinalizeBlock(engine.Block{Height: e.Height() + 1, Txs: [][]byte{grant, rot}})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, res, 0)
	mustOK(t, res, 1)

	hasGrant := func() bool {
		return slices.Contains(e.Reader().Policy().Grants(), rbac.Grant{Subject: typestest.Addr("alice"), Role: "reader", Domain: "bank1"})
	}
	check := func() bool {
		r, err := e.Reader().Check(typestest.Addr("root"), types.CheckRequest{Subject: typestest.Addr("alice"), Action: rbac.ActRead, Key: "bank1/x"})
		if err != nil {
			t.Fatal(err)
		}
		return r.Allowed
	}
	n := uint64(0)
	read := func() types.Code {
		n++
		return types.Code(signedRead(t, app, typestest.Key("alice"), types.QueryGet, []byte("bank1/x"), n).Code)
	}
	_, err = e.Reader().Resolve(typestest.Addr("carol"))
	carolActs := err == nil
	if c := read(); c != types.CodeUnauthorized || e.Reader().CanRead(typestest.Addr("alice"), "bank1/x") || check() || hasGrant() || !carolActs {
		t.Fatalf("before Commit: read %s, CanRead %v, Check %v, grant listed %v, old key acts %v: the staged block leaked into reads",
			c.Name(), e.Reader().CanRead(typestest.Addr("alice"), "bank1/x"), check(), hasGrant(), carolActs)
	}
	if err := e.Commit(); err != nil {
		t.Fatal(err)
	}
	_, err = e.Reader().Resolve(typestest.Addr("carol"))
	carolActs = err == nil
	if c := read(); c != types.CodeOK || !e.Reader().CanRead(typestest.Addr("alice"), "bank1/x") || !check() || !hasGrant() || carolActs {
		t.Fatalf("after Commit: read %s, CanRead %v, Check %v, grant listed %v, old key acts %v: the committed block is not effective",
			c.Name(), e.Reader().CanRead(typestest.Addr("alice"), "bank1/x"), check(), hasGrant(), carolActs)
	}
}
