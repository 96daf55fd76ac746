package rest_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/dstt/dstt/rbac"
	"github.com/dstt/dstt/transport/client"
	"github.com/dstt/dstt/transport/internal/testnode"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// Through the gateway, on a chain with access control: the member orgs and
// an identity's key history answer an admin, an auditor and (for an
// identity) the identity itself; an unsigned read or a stranger's is
// refused with UNAUTHORIZED and changes nothing. The validator set, which
// every commit names, stays open.
func TestAttackMembershipViewsThroughGateway(t *testing.T) {
	n := testnode.Start(t, testnode.Options{RBAC: true})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stranger, auditor := newKey(t), newKey(t)
	admin := n.AdminClient(t)
	if _, err := admin.SubmitOps(ctx, typestest.Grant(types.Address(auditor.PubKey()), rbac.AuditorRole, rbac.AllDomains)); err != nil {
		t.Fatal(err)
	}
	before := appHash(t, n)
	adminAddr, strangerAddr := types.Address(n.Admin.PubKey()), types.Address(stranger.PubKey())

	wantProblem(t, "unsigned orgs", do(t, http.MethodGet, n.URL()+"/v1/gov/orgs", "", nil), 403, "UNAUTHORIZED")
	wantProblem(t, "unsigned identity", do(t, http.MethodGet, n.URL()+"/v1/identities/"+adminAddr, "", nil), 403, "UNAUTHORIZED")
	if r := do(t, http.MethodGet, n.URL()+"/v1/gov/validators", "", nil); r.status != 200 {
		t.Fatalf("unsigned validators: %d %s", r.status, r.body)
	}

	sc, err := client.NewREST(n.URL(), client.WithReader(stranger))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Raw(ctx, types.QueryOrgs, nil); !errors.Is(err, client.ErrUnauthorized) {
		t.Errorf("a stranger reads the orgs: %v", err)
	}
	if _, err := sc.Identity(ctx, adminAddr); !errors.Is(err, client.ErrUnauthorized) {
		t.Errorf("a stranger reads the admin's identity: %v", err)
	}
	if v, err := sc.Identity(ctx, strangerAddr); err != nil || v.Identity != strangerAddr {
		t.Errorf("the stranger reads its own identity: %+v %v", v, err)
	}
	ac, err := client.NewREST(n.URL(), client.WithReader(auditor))
	if err != nil {
		t.Fatal(err)
	}
	for who, c := range map[string]*client.Client{"admin": admin, "auditor": ac} {
		if _, err := c.Raw(ctx, types.QueryOrgs, nil); err != nil {
			t.Errorf("%s reads the orgs: %v", who, err)
		}
		if v, err := c.Identity(ctx, strangerAddr); err != nil || v.Identity != strangerAddr {
			t.Errorf("%s reads the stranger's identity: %+v %v", who, v, err)
		}
	}
	if after := appHash(t, n); after != before {
		t.Errorf("the reads changed the app hash %s -> %s", before, after)
	}
}
