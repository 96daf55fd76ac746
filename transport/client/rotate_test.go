package client_test

import (
	"context"
	"encoding/hex"
	"testing"
	"time"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/transport/internal/testnode"
	"github.com/dstt/dstt/types"
)

// After RotateKey the client signs reads and txs with the successor: the
// chain refuses the old key, and the identity's reads and writes go on.
func TestRotateKeyMovesTheClientToTheNewKey(t *testing.T) {
	n := testnode.Start(t, testnode.Options{RBAC: true})
	c := n.AdminClient(t)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.SubmitOps(ctx, putOp("k", "v1")); err != nil {
		t.Fatal(err)
	}
	next, err := security.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RotateKey(ctx, n.Admin, next); err != nil {
		t.Fatal(err)
	}
	kv, _, err := c.Get(ctx, "k", 0)
	if err != nil || string(kv.Value) != "v1" {
		t.Fatalf("signed read after the rotation: %q %v", kv.Value, err)
	}
	res, err := c.SubmitOps(ctx, putOp("k", "v2"))
	if err != nil {
		t.Fatalf("tx after the rotation: %v", err)
	}
	hash, err := hex.DecodeString(res.Hash)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := c.Tx(ctx, hash)
	if err != nil || tx.Signer != types.Address(n.Admin.PubKey()) {
		t.Fatalf("tx after the rotation: signer %q (want the identity %s), %v", tx.Signer, types.Address(n.Admin.PubKey()), err)
	}
	id, err := c.Identity(ctx, types.Address(next.PubKey()))
	if err != nil || id.Identity != types.Address(n.Admin.PubKey()) || len(id.Keys) != 2 {
		t.Fatalf("identity of the new key: %+v %v", id, err)
	}
}
