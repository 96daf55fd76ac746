package abci

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/dstt/dstt/abci/engine"
	"github.com/dstt/dstt/rbac"
	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
)

// rbacChain is an engine whose genesis admin is root, where alice may
// write and read acct/*.
func rbacChain(t *testing.T) (*engine.Engine, *App) {
	t.Helper()
	g := engine.DefaultGenesisState()
	root := testKey("root")
	g.Admins = []string{types.Address(root.PubKey())}
	state, _ := json.Marshal(g)
	e, err := engine.NewEngine(storage.NewInMemoryStore(), engine.PlainVerifier{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.InitChain(testChain, state); err != nil {
		t.Fatal(err)
	}
	alice := types.Address(testKey("alice").PubKey())
	setup := signTx(t, &types.TxBody{ChainId: testChain, Nonce: 1, ValidUntilHeight: 10, Ops: []types.Op{
		{Sum: &types.Op_Policy{Policy: &types.PolicyRule{Subject: "writer", Domain: "*", Object: "acct/*", Action: rbac.ActWrite}}},
		{Sum: &types.Op_Policy{Policy: &types.PolicyRule{Subject: "writer", Domain: "*", Object: "acct/*", Action: rbac.ActRead}}},
		{Sum: &types.Op_Grant{Grant: &types.Grant{Subject: alice, Role: "writer", Domain: "*"}}},
	}}, root)
	w := signTx(t, &types.TxBody{ChainId: testChain, Nonce: 2, ValidUntilHeight: 10, Ops: []types.Op{putOp("acct/1", "100")}}, testKey("alice"))
	for _, tx := range [][]byte{setup, w} {
		if res := runBlock(t, e, tx); res.Txs[0].Code != types.CodeOK {
			t.Fatal(res.Txs[0].Log)
		}
	}
	return e, NewApp(e, nil)
}

// signedQuery wraps an inner query signed by s, with a fresh nonce.
func signedQuery(t *testing.T, s security.Signer, path string, data []byte, nonce byte) []byte {
	t.Helper()
	ms := time.Now().UnixMilli()
	n := make([]byte, types.QueryNonceSize)
	n[0] = nonce
	sig, err := s.Sign(types.QuerySignBytes(testChain, path, data, 0, ms, n))
	if err != nil {
		t.Fatal(err)
	}
	sq := types.SignedQuery{Path: path, Data: data, TimeUnixMs: ms, PubKey: s.PubKey(), Signature: sig, Nonce: n}
	b, err := sq.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func query(t *testing.T, a *App, data []byte) *abcitypes.ResponseQuery {
	t.Helper()
	res, err := a.Query(context.Background(), &abcitypes.RequestQuery{Path: types.QuerySigned, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Attack 4: on ffeaeb3 reads mapped a query's key to an address, never to
// the identity: after a rotation the retired key kept its identity's read
// rights and the new key had none. Now every read resolves the key through
// the one identity rule.
func TestAttackRetiredKeyReads(t *testing.T) {
	e, app := rbacChain(t)
	alice, alice2 := testKey("alice"), testKey("alice2")
	op, err := security.RotateKeyOp(testChain, alice.PubKey(), alice2)
	if err != nil {
		t.Fatal(err)
	}
	rot := signTx(t, &types.TxBody{ChainId: testChain, Nonce: 3, ValidUntilHeight: 10, Ops: []types.Op{op}}, alice)
	if res := runBlock(t, e, rot); res.Txs[0].Code != types.CodeOK {
		t.Fatal(res.Txs[0].Log)
	}
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
	root := testKey("root")
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
	alice := testKey("alice")
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
	sq.Signature, _ = alice.Sign(types.QuerySignBytes(testChain, sq.Path, sq.Data, 0, sq.TimeUnixMs, nil))
	nb, _ := sq.Marshal()
	if res := query(t, app, nb); types.Code(res.Code) != types.CodeUnauthorized || !strings.Contains(res.Log, "nonce") {
		t.Errorf("query without a nonce: code %d %q", res.Code, res.Log)
	}
}
