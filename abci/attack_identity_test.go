package abci

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dstt/dstt/abci/engine"
	"github.com/dstt/dstt/rbac"
	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// rbacChain is an engine whose genesis admin is root, where alice may
// write and read acct/*.
func rbacChain(t *testing.T) (*engine.Engine, *App) {
	t.Helper()
	g := engine.DefaultGenesisState()
	g.Admins = []string{typestest.Addr("root")}
	e := newChain(t, g)
	mustOK(t, runBlock(t, e, typestest.GovTx(t, e.Height(), []types.Op{
		typestest.Policy(rbac.Rule{Subject: "writer", Domain: "*", Object: "acct/*", Action: rbac.ActWrite}, false),
		typestest.Policy(rbac.Rule{Subject: "writer", Domain: "*", Object: "acct/*", Action: rbac.ActRead}, false),
		typestest.Grant(typestest.Addr("alice"), "writer", "*"),
	}, "root")), 0)
	mustOK(t, runBlock(t, e, typestest.GovTx(t, e.Height(), []types.Op{typestest.Put("acct/1", "100")}, "alice")), 0)
	return e, NewApp(e, nil)
}

// Attack 4: on ffeaeb3 reads mapped a query's key to an address, never to
// the identity: after a rotation the retired key kept its identity's read
// rights and the new key had none. Now every read resolves the key through
// the one identity rule.
func TestAttackRetiredKeyReads(t *testing.T) {
	e, app := rbacChain(t)
	alice, alice2 := typestest.Key("alice"), typestest.Key("alice2")
	op, err := security.RotateKeyOp(typestest.Chain, alice.PubKey(), alice2)
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, runBlock(t, e, typestest.GovTx(t, e.Height(), []types.Op{op}, "alice")), 0)
	res := query(t, app, signedQuery(t, alice, types.QueryGet, []byte("acct/1"), 1))
	if types.Code(res.Code) != types.CodeUnauthorized || !strings.Contains(res.Log, "retired") {
		t.Errorf("retired key reads: code %d %q, want UNAUTHORIZED (retired)", res.Code, res.Log)
	}
	res = query(t, app, signedQuery(t, alice2, types.QueryGet, []byte("acct/1"), 1))
	if res.Code != 0 {
		t.Errorf("new key reads its identity's key: code %d %q", res.Code, res.Log)
	}
	// Policy checks resolve the subject the same way (the gateway's event
	// filter asks them).
	root := typestest.Key("root")
	for _, tc := range []struct {
		who  string
		key  security.Signer
		want bool
	}{{"retired key", alice, false}, {"new key", alice2, true}} {
		data, _ := json.Marshal(types.CheckRequest{Subject: types.Address(tc.key.PubKey()), Action: rbac.ActRead, Key: "acct/1"})
		res := query(t, app, signedQuery(t, root, types.QueryCheck, data, 2))
		var cr types.CheckResult
		if res.Code != 0 || json.Unmarshal(res.Value, &cr) != nil || cr.Allowed != tc.want {
			t.Errorf("check %s may read: code %d %q allowed=%v, want %v", tc.who, res.Code, res.Log, cr.Allowed, tc.want)
		}
	}
}

// Signed queries: canonical encoding only; two honest identical queries in
// the same millisecond differ by their nonce; the same one twice is a
// replay; a query without a nonce is refused.
func TestSignedQueryNonceAndCanonical(t *testing.T) {
	_, app := rbacChain(t)
	alice := typestest.Key("alice")
	a := signedQuery(t, alice, types.QueryGet, []byte("acct/1"), 1)
	b := signedQuery(t, alice, types.QueryGet, []byte("acct/1"), 2)
	for i, q := range [][]byte{a, b} {
		if res := query(t, app, q); res.Code != 0 {
			t.Errorf("query %d: code %d %q", i, res.Code, res.Log)
		}
	}
	if res := query(t, app, a); types.Code(res.Code) != types.CodeUnauthorized || !strings.Contains(res.Log, "replay") {
		t.Errorf("replayed query: code %d %q", res.Code, res.Log)
	}
	c := signedQuery(t, alice, types.QueryGet, []byte("acct/1"), 3)
	if res := query(t, app, append(c, 0x78, 0x01)); types.Code(res.Code) != types.CodeBadQuery {
		t.Errorf("query with an unknown field: code %d %q, want BAD_QUERY", res.Code, res.Log)
	}
	var sq types.SignedQuery
	_ = sq.Unmarshal(c)
	sq.Nonce = nil
	sq.Signature, _ = alice.Sign(types.QuerySignBytes(typestest.Chain, sq.Path, sq.Data, 0, sq.TimeUnixMs, nil))
	nb, _ := sq.Marshal()
	if res := query(t, app, nb); types.Code(res.Code) != types.CodeUnauthorized || !strings.Contains(res.Log, "nonce") {
		t.Errorf("query without a nonce: code %d %q", res.Code, res.Log)
	}
}
