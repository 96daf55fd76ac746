package rest_test

import (
	"context"
	"encoding/hex"
	"testing"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"

	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/transport/internal/testnode"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// Attack 1 (issue: replay by re-encoding). On ffeaeb3 the replay check
// keyed on the hash of the whole envelope while signatures cover only the
// body, so appending an unknown field or duplicating a signature made a
// "new" tx: a revoked grant was replayed and the revoked user wrote again,
// and a balance was set back. Now every re-encoded, duplicated-signature or
// unknown-field variant of a committed tx is refused, through the REST
// gateway and through CometBFT's RPC, and the state does not move.
func TestAttackReplayVariants(t *testing.T) {
	n := testnode.Start(t, testnode.Options{RBAC: true})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	alice := newKey(t)
	commit := func(what string, tx []byte) {
		t.Helper()
		r := postJSON(t, n, api.SubmitRequest{Tx: hex.EncodeToString(tx), Mode: api.ModeCommit})
		if r.status != 200 {
			t.Fatalf("%s: %d %s", what, r.status, r.body)
		}
	}
	grant := signTx(t, n, n.Admin, allow("writer", "*", "acct/*", "write"), typestest.Grant(types.Address(alice.PubKey()), "writer", "*"))
	commit("grant", grant)
	w1 := signTx(t, n, alice, put("acct/1", "100"))
	commit("write 100", w1)
	commit("write 50", signTx(t, n, alice, put("acct/1", "50")))
	commit("revoke", signTx(t, n, n.Admin, typestest.Revoke(types.Address(alice.PubKey()), "writer", "*")))
	before := appHash(t, n)

	rpc, err := rpchttp.New("tcp://"+trimScheme(n.Node.RPCAddress()), "/websocket")
	if err != nil {
		t.Fatal(err)
	}
	tried := 0
	for _, orig := range []struct {
		name string
		tx   []byte
	}{{"grant", grant}, {"write-100", w1}} {
		for _, v := range typestest.EnvelopeVariants(orig.tx) {
			tried++
			r := postJSON(t, n, api.SubmitRequest{Tx: hex.EncodeToString(v.Bytes), Mode: api.ModeCommit})
			if r.status == 200 || (r.problem.Code != "ENCODING" && r.problem.Code != "REPLAY") {
				t.Errorf("REST %s/%s: %d %s, want ENCODING or REPLAY", orig.name, v.Name, r.status, r.body)
			}
			res, err := rpc.BroadcastTxSync(ctx, v.Bytes)
			if err != nil {
				t.Fatalf("RPC %s/%s: %v", orig.name, v.Name, err)
			}
			if c := types.Code(res.Code); c != types.CodeEncoding && c != types.CodeReplay {
				t.Errorf("RPC %s/%s: code %s (%s), want ENCODING or REPLAY", orig.name, v.Name, c, res.Log)
			}
		}
		// The exact bytes again: REPLAY.
		wantProblem(t, orig.name+" resubmitted", postJSON(t, n, api.SubmitRequest{Tx: hex.EncodeToString(orig.tx), Mode: api.ModeCommit}), 409, "REPLAY")
	}
	if tried < 16 {
		t.Fatalf("only %d variants tried", tried)
	}
	// Nothing moved: same app hash, the balance is the last one written,
	// and alice's grant stays revoked.
	if after := appHash(t, n); after != before {
		t.Errorf("variants changed the state: app hash %s -> %s", before, after)
	}
	admin := n.AdminClient(t)
	if kv, _, err := admin.Get(ctx, "acct/1", 0); err != nil || string(kv.Value) != "50" {
		t.Errorf("acct/1 = %q (%v), want 50", kv.Value, err)
	}
	wantProblem(t, "revoked alice writes", postJSON(t, n, api.SubmitRequest{Tx: hex.EncodeToString(signTx(t, n, alice, put("acct/1", "999"))), Mode: api.ModeCommit}), 403, "UNAUTHORIZED")
	t.Logf("%d variants of 2 committed txs refused through REST and CometBFT RPC; app hash unchanged", tried)
}

func trimScheme(addr string) string {
	for _, p := range []string{"tcp://", "http://"} {
		if len(addr) > len(p) && addr[:len(p)] == p {
			return addr[len(p):]
		}
	}
	return addr
}
