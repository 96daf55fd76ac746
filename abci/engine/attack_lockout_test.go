package engine

import (
	"testing"

	"github.com/dstt/dstt/rbac"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// bankChain: genesis admin "root", org bank1 administered by "b1", a
// teller rule in bank1 granted to "teller1".
func bankChain(t *testing.T) *Engine {
	t.Helper()
	g := DefaultGenesisState()
	g.Admins = []string{typestest.Addr("root")}
	g.Orgs = []types.Org{{ID: "bank1", Admins: []string{typestest.Addr("b1")}}}
	e := newChain(t, storage.NewInMemoryStore(), g)
	res := runBlock(t, e, typestest.GovTx(t, e.Height(), []types.Op{
		typestest.Policy(rbac.Rule{Subject: "teller", Domain: "bank1", Object: "bank1/payments/*", Action: rbac.ActWrite}, false),
		typestest.Grant(typestest.Addr("teller1"), "teller", "bank1"),
	}, "root"))
	mustOK(t, res, 0)
	return e
}

// TestAttackDomainAdminLocksOutGenesisAdmin (attack 10): on ffeaeb3 a
// domain admin's deny rule took bank1 away from the genesis admin for good
// (deny wins, and IsAdmin went through the same decision). Now chain-wide
// admins administer every domain by membership, and a domain admin cannot
// aim a deny or a revoke at them.
func TestAttackDomainAdminLocksOutGenesisAdmin(t *testing.T) {
	e := bankChain(t)
	root := typestest.Addr("root")

	// A deny for everyone is the domain's business (it binds its own admin
	// too), but it does not take admin away from a chain-wide admin.
	denyAll := rbac.Rule{Subject: rbac.Anyone, Domain: "bank1", Object: "*", Action: rbac.ActAll, Deny: true}
	mustOK(t, runBlock(t, e, typestest.GovTx(t, e.Height(), []types.Op{typestest.Policy(denyAll, false)}, "b1")), 0)
	wantCode(t, runBlock(t, e, typestest.GovTx(t, e.Height(), []types.Op{typestest.Grant(typestest.Addr("teller2"), "teller", "bank1")}, "b1")),
		types.CodeUnauthorized, "the domain admin after its own deny-all")
	mustOK(t, runBlock(t, e, typestest.GovTx(t, e.Height(), []types.Op{typestest.Policy(denyAll, true)}, "root")), 0)
	mustOK(t, runBlock(t, e, typestest.GovTx(t, e.Height(), []types.Op{typestest.Grant(typestest.Addr("teller2"), "teller", "bank1")}, "b1")), 0)

	// Aimed at a chain-wide admin, or the admin role: refused.
	for _, c := range []struct {
		what string
		op   types.Op
	}{
		{"deny the genesis admin", typestest.Policy(rbac.Rule{Subject: root, Domain: "bank1", Object: "*", Action: rbac.ActAll, Deny: true}, false)},
		{"deny the admin role", typestest.Policy(rbac.Rule{Subject: rbac.AdminRole, Domain: "bank1", Object: "*", Action: rbac.ActAdmin, Deny: true}, false)},
		{"grant admin in *", typestest.Grant(typestest.Addr("b1"), rbac.AdminRole, rbac.AllDomains)},
		{"revoke the genesis admin", typestest.Revoke(root, rbac.AdminRole, rbac.AllDomains)},
	} {
		res := runBlock(t, e, typestest.GovTx(t, e.Height(), []types.Op{c.op}, "b1"))
		wantCode(t, res, types.CodeUnauthorized, c.what)
		if got := e.CheckTx(typestest.GovTx(t, e.Height(), []types.Op{c.op}, "b1")); got.Code != types.CodeUnauthorized {
			t.Fatalf("CheckTx %s: %s %q", c.what, got.Code.Name(), got.Log)
		}
	}
	if !e.Reader().Policy().IsAdmin(root, "bank1") {
		t.Fatal("the genesis admin lost bank1")
	}
	// The genesis admin itself may do all of it.
	mustOK(t, runBlock(t, e, typestest.GovTx(t, e.Height(), []types.Op{typestest.Policy(rbac.Rule{Subject: typestest.Addr("b1"), Domain: "bank1", Object: "*", Action: rbac.ActAdmin, Deny: true}, false)}, "root")), 0)
	if e.Reader().Policy().IsAdmin(typestest.Addr("b1"), "bank1") {
		t.Fatal("a chain-wide admin's deny binds a domain admin")
	}
}
