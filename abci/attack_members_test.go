package abci

import (
	"context"
	"errors"
	"testing"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/dstt/dstt/abci/engine"
	"github.com/dstt/dstt/rbac"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// TestAttackMembershipViews: on a chain with access control the member
// orgs (their admins' addresses, validators, k) and an identity's key
// history answered anyone, unsigned. Now they answer an org admin, a
// policy reader (admins, the auditor role) and, for an identity, the
// identity itself; a refusal is UNAUTHORIZED, recorded, and changes
// nothing. The validator set, which every commit names, stays open.
func TestAttackMembershipViews(t *testing.T) {
	e, a := bankChain(t)
	mustOK(t, runBlock(t, e, typestest.GovTx(t, e.Height(), []types.Op{typestest.Grant(typestest.Addr("aud"), rbac.AuditorRole, rbac.AllDomains)}, "root")), 0)
	var refused []string
	a.OnAuthFailure = func(_ context.Context, reader, path, _ string) { refused = append(refused, reader+" "+path) }
	hash := string(e.AppHash())
	ask := func(reader, path string, data []byte) error {
		_, err := a.query(path, data, 0, reader, &abcitypes.ResponseQuery{})
		return err
	}
	teller := typestest.Addr("teller1")
	for _, who := range []string{"", typestest.Addr("outsider"), teller} {
		if err := ask(who, types.QueryOrgs, nil); !errors.Is(err, engine.ErrUnauthorized) {
			t.Errorf("%q read the orgs: %v", who, err)
		}
		if err := ask(who, types.QueryIdentity, []byte(typestest.Addr("root"))); !errors.Is(err, engine.ErrUnauthorized) {
			t.Errorf("%q read root's identity: %v", who, err)
		}
		if err := ask(who, types.QueryValidators, nil); err != nil {
			t.Errorf("%q read the validators: %v", who, err)
		}
	}
	for _, who := range []string{"root", "b1", "aud"} {
		if err := ask(typestest.Addr(who), types.QueryOrgs, nil); err != nil {
			t.Errorf("%s may read the orgs: %v", who, err)
		}
		if err := ask(typestest.Addr(who), types.QueryIdentity, []byte(teller)); err != nil {
			t.Errorf("%s may read teller1's identity: %v", who, err)
		}
	}
	if err := ask(teller, types.QueryIdentity, []byte(teller)); err != nil {
		t.Errorf("teller1 may read its own identity: %v", err)
	}

	// Through App.Query: unsigned and signed refusals carry the stable
	// code and are recorded.
	res, err := a.Query(context.Background(), &abcitypes.RequestQuery{Path: types.QueryOrgs})
	if err != nil || res.Code != uint32(types.CodeUnauthorized) || len(res.Value) != 0 {
		t.Fatalf("unsigned orgs: %v code %d %s", err, res.Code, res.Log)
	}
	if res := signedRead(t, a, typestest.Key("outsider"), types.QueryIdentity, []byte(teller), 1); res.Code != uint32(types.CodeUnauthorized) {
		t.Fatalf("outsider's identity read: code %d %s", res.Code, res.Log)
	}
	if res := signedRead(t, a, typestest.Key("b1"), types.QueryOrgs, nil, 2); res.Code != 0 {
		t.Fatalf("org admin's orgs read: code %d %s", res.Code, res.Log)
	}
	want := []string{" " + types.QueryOrgs, typestest.Addr("outsider") + " " + types.QueryIdentity}
	if len(refused) != 2 || refused[0] != want[0] || refused[1] != want[1] {
		t.Errorf("recorded refusals %q, want %q", refused, want)
	}
	if string(e.AppHash()) != hash {
		t.Error("reads changed the app hash")
	}
}

// On a chain without access control the views stay open to anyone.
func TestMembershipViewsOpenWithoutAccessControl(t *testing.T) {
	g := engine.DefaultGenesisState()
	e := newChain(t, g)
	a := NewApp(e, nil)
	for _, p := range []string{types.QueryOrgs, types.QueryValidators} {
		if _, err := a.query(p, nil, 0, "", &abcitypes.ResponseQuery{}); err != nil {
			t.Errorf("unsigned %s: %v", p, err)
		}
	}
	if _, err := a.query(types.QueryIdentity, []byte(typestest.Addr("x")), 0, "", &abcitypes.ResponseQuery{}); err != nil {
		t.Errorf("unsigned identity: %v", err)
	}
}
