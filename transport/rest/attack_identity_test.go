package rest_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/transport/client"
	"github.com/dstt/dstt/transport/internal/testnode"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// Attacks 2 and 4 through the gateway. On ffeaeb3 a fresh key with no
// grants could rotate to the genesis admin's public key and the admin lost
// every right (2); after a rotation the retired key kept its identity's
// read rights and the new key had none (4). Now rotation needs the new
// key's proof of possession and cannot take a policy subject's key, and
// reads (GET, event subscriptions) resolve the key to its identity.
func TestAttackRotationAndRetiredReads(t *testing.T) {
	n := testnode.Start(t, testnode.Options{RBAC: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mallory, alice, alice2 := newKey(t), newKey(t), newKey(t)
	admin := n.AdminClient(t)
	if _, err := admin.SubmitOps(ctx,
		allow("reader", "*", "acct/*", "read"),
		typestest.Grant(types.Address(alice.PubKey()), "reader", "*"),
		put("acct/1", "100"),
	); err != nil {
		t.Fatal(err)
	}

	// 2: mallory rotates to the admin's key, with a proof it cannot make
	// (signed by its own key) and with no proof at all.
	forged, err := security.RotateKeyOp(n.ChainID, mallory.PubKey(), mallory)
	if err != nil {
		t.Fatal(err)
	}
	forged.GetRotateKey().NewPubKey = n.Admin.PubKey()
	wantProblem(t, "rotate to the admin's key", postTx(t, n, signTx(t, n, mallory, forged)), 422, "BAD_SIGNATURE")
	forged.GetRotateKey().Proof = nil
	wantProblem(t, "rotate without a proof", postTx(t, n, signTx(t, n, mallory, forged)), 422, "INVALID_OP")
	if _, err := admin.SubmitOps(ctx, put("acct/2", "admin still writes")); err != nil {
		t.Fatalf("the admin lost its rights: %v", err)
	}

	// 4: alice rotates to alice2; the old key reads nothing, the new one
	// reads what alice may.
	rot, err := security.RotateKeyOp(n.ChainID, alice.PubKey(), alice2)
	if err != nil {
		t.Fatal(err)
	}
	if r := postTx(t, n, signTx(t, n, alice, rot)); r.status != 200 {
		t.Fatalf("rotation: %d %s", r.status, r.body)
	}
	old, err := client.NewREST(n.URL(), client.WithReader(alice))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := old.Get(ctx, "acct/1", 0); !errors.Is(err, client.ErrUnauthorized) {
		t.Errorf("retired key reads acct/1: %v, want unauthorized", err)
	}
	cur, err := client.NewREST(n.URL(), client.WithReader(alice2))
	if err != nil {
		t.Fatal(err)
	}
	if kv, _, err := cur.Get(ctx, "acct/1", 0); err != nil || string(kv.Value) != "100" {
		t.Errorf("new key reads acct/1: %q %v", kv.Value, err)
	}
	// An event subscription signed by the retired key is refused.
	path, data := api.EventsQuery(types.Address(alice.PubKey()), "acct/")
	sr, err := api.SignRead(alice, n.ChainID, path, data, 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	wantProblem(t, "retired key subscribes", do(t, http.MethodGet, n.URL()+"/v1/events?prefix="+url.QueryEscape("acct/"), "", nil, "Authorization", sr.String()), 403, "UNAUTHORIZED")
}
