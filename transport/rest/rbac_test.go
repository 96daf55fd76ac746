package rest_test

import (
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/transport/client"
	"github.com/dstt/dstt/transport/internal/testnode"
	"github.com/dstt/dstt/types"
)

// Acceptance 3, unauthorised: on a chain with access control, a signer
// without the right gets a problem document and changes nothing; reads
// and event streams show a reader only what it may read. The node
// decides: the gateway passes signed reads through.
func TestUnauthorizedRequests(t *testing.T) {
	n := testnode.Start(t, testnode.Options{RBAC: true})
	stranger := newKey(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin := n.AdminClient(t)
	if _, err := admin.SubmitOps(ctx, put("pub/a", "open"), put("secret/b", "closed")); err != nil {
		t.Fatal(err)
	}
	// The stranger may read pub/* and nothing else.
	if _, err := admin.SubmitOps(ctx, allow(types.Address(stranger.PubKey()), "pub", "pub/*", "read")); err != nil {
		t.Fatal(err)
	}
	before := appHash(t, n)

	// A write without permission: 403 UNAUTHORIZED, nothing applied.
	r := postJSON(t, n, api.SubmitRequest{Tx: hex.EncodeToString(signTx(t, n, stranger, put("secret/b", "mine"))), Mode: api.ModeCommit})
	wantProblem(t, "unauthorised write", r, 403, "UNAUTHORIZED")
	if after := appHash(t, n); after != before || n.Node.CometNode().Mempool().Size() != 0 {
		t.Errorf("the refused tx changed something: app hash %s -> %s", before, after)
	}

	// Resubmitting the admin's committed tx: REPLAY, even though an
	// unsigned reader may not see its record.
	replayed := signTx(t, n, n.Admin, put("secret/r", "1"))
	if r := postJSON(t, n, api.SubmitRequest{Tx: hex.EncodeToString(replayed), Mode: api.ModeCommit}); r.status != 200 {
		t.Fatalf("admin tx: %d %s", r.status, r.body)
	}
	wantProblem(t, "replay on an access-controlled chain", postJSON(t, n, api.SubmitRequest{Tx: hex.EncodeToString(replayed), Mode: api.ModeCommit}), 409, "REPLAY")

	// Unsigned reads of a protected key: 403.
	wantProblem(t, "unsigned read", do(t, http.MethodGet, n.URL()+"/v1/kv/secret%2Fb", "", nil), 403, "UNAUTHORIZED")
	// Signed reads: the node decides per reader.
	sc, err := client.NewREST(n.URL(), client.WithReader(stranger))
	if err != nil {
		t.Fatal(err)
	}
	if kv, _, err := sc.Get(ctx, "pub/a", 0); err != nil || string(kv.Value) != "open" {
		t.Fatalf("stranger reads pub/a: %q %v", kv.Value, err)
	}
	if _, _, err := sc.Get(ctx, "secret/b", 0); !errors.Is(err, client.ErrUnauthorized) {
		t.Fatalf("stranger reads secret/b: %v", err)
	}
	if kv, _, err := admin.Get(ctx, "secret/b", 0); err != nil || string(kv.Value) != "closed" {
		t.Fatalf("admin reads secret/b: %q %v", kv.Value, err)
	}
	// A signed read header is single-use.
	sr, err := api.SignRead(stranger, n.ChainID, types.QueryGet, []byte("pub/a"), 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if r := do(t, http.MethodGet, n.URL()+"/v1/kv/pub%2Fa", "", nil, "Authorization", sr.String()); r.status != 200 {
		t.Fatalf("signed read: %d %s", r.status, r.body)
	}
	wantProblem(t, "replayed signed read", do(t, http.MethodGet, n.URL()+"/v1/kv/pub%2Fa", "", nil, "Authorization", sr.String()), 403, "UNAUTHORIZED")
	// A header signed for another key does not open this one.
	sr2, _ := api.SignRead(stranger, n.ChainID, types.QueryGet, []byte("pub/a"), 0, time.Now().Add(time.Millisecond))
	wantProblem(t, "header for another query", do(t, http.MethodGet, n.URL()+"/v1/kv/secret%2Fb", "", nil, "Authorization", sr2.String()), 403, "UNAUTHORIZED")

	// Event streams from height 1: each subscriber sees only what it may read.
	streamKeys := func(c *client.Client) []string {
		t.Helper()
		sub, err := c.Subscribe(ctx, "", client.SubscribeOptions{FromHeight: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		// A marker the admin writes last ends the stream for the admin;
		// for the others, pub/z (readable by the stranger) does.
		var keys []string
		for {
			select {
			case ev := <-sub.Events():
				keys = append(keys, ev.Key)
				if ev.Key == "pub/z" {
					return keys
				}
			case <-ctx.Done():
				t.Fatalf("stream stopped at %v", keys)
			}
		}
	}
	if _, err := admin.SubmitOps(ctx, put("secret/c", "x"), put("pub/z", "end")); err != nil {
		t.Fatal(err)
	}
	if got := streamKeys(admin); len(got) != 5 || got[0] != "pub/a" || got[1] != "secret/b" || got[2] != "secret/r" || got[3] != "secret/c" {
		t.Errorf("admin's stream: %v", got)
	}
	if got := streamKeys(sc); len(got) != 2 || got[0] != "pub/a" || got[1] != "pub/z" {
		t.Errorf("stranger's stream: %v", got)
	}
	// Unsigned: "anyone" may read nothing here, so the stream is empty; the
	// gateway still accepts it (the rule could change).
	anon, _ := client.NewREST(n.URL())
	sub, err := anon.Subscribe(ctx, "", client.SubscribeOptions{FromHeight: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	// "anyone" may read pub/*: from now on the unsigned stream sees pub/ keys.
	if _, err := admin.SubmitOps(ctx, allow("anyone", "pub", "pub/*", "read")); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.SubmitOps(ctx, put("secret/d", "x"), put("pub/y", "seen")); err != nil {
		t.Fatal(err)
	}
	var anonKeys []string
	for len(anonKeys) == 0 || anonKeys[len(anonKeys)-1] != "pub/y" {
		select {
		case ev := <-sub.Events():
			anonKeys = append(anonKeys, ev.Key)
			if ev.Key[:4] != "pub/" {
				t.Fatalf("anonymous stream got %s", ev.Key)
			}
		case <-ctx.Done():
			t.Fatalf("anonymous stream: %v", anonKeys)
		}
	}
}
