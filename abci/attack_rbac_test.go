package abci

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/dstt/dstt/abci/engine"
	"github.com/dstt/dstt/rbac"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// Tests for the access-control attacks of issue 10: (6) check queries
// that grow memory, (10) a domain admin locking the genesis admins out,
// (11) any self-made key reading the policy.

// bankChain: genesis admin "root", org bank1 administered by "b1", a
// teller rule in bank1 granted to "teller1".
func bankChain(t *testing.T) (*engine.Engine, *App) {
	t.Helper()
	g := engine.DefaultGenesisState()
	g.Admins = []string{typestest.Addr("root")}
	g.Orgs = []types.Org{{ID: "bank1", Admins: []string{typestest.Addr("b1")}}}
	e := newChain(t, g)
	res := runBlock(t, e, typestest.GovTx(t, e.Height(), []types.Op{
		typestest.Policy(rbac.Rule{Subject: "teller", Domain: "bank1", Object: "bank1/payments/*", Action: rbac.ActWrite}, false),
		typestest.Grant(typestest.Addr("teller1"), "teller", "bank1"),
	}, "root"))
	mustOK(t, res, 0)
	return e, NewApp(e, nil)
}

// checkQuery runs a types.QueryCheck for reader through the App's query switch
// (after signature checking, which attack 6 does not need to get past).
func checkQuery(a *App, reader string, data []byte) (types.CheckResult, error) {
	val, err := a.query(types.QueryCheck, data, 0, reader, &abcitypes.ResponseQuery{})
	if err != nil {
		return types.CheckResult{}, err
	}
	var res types.CheckResult
	return res, json.Unmarshal(val, &res)
}

func checkData(sub, act, key string) []byte {
	b, _ := json.Marshal(types.CheckRequest{Subject: sub, Action: act, Key: key})
	return b
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestAttackCheckQueriesBoundedMemory (attack 6): on ffeaeb3, signed
// /rbac/check queries naming fresh 450 KB domains grew the node from 69 MB
// to 3.8 GB: every (subject, domain) asked about stayed in the policy's
// role cache. Now oversized names are refused before any lookup, and names
// within the limits leave nothing behind.
func TestAttackCheckQueriesBoundedMemory(t *testing.T) {
	_, a := bankChain(t)
	outsider := typestest.Addr("outsider")
	root := typestest.Addr("root")

	// {"subject":"<address i>","action":"read","key":"d<i>xxx…/k"}: one
	// buffer, rewritten with fresh names for every query (a decoder copies
	// what it keeps, so reuse hides no retention and keeps the test fast).
	data := fmt.Appendf(nil, `{"subject":"%040x","action":"read","key":"d%07d`, 0, 0)
	head := len(data)
	data = append(data, strings.Repeat("x", 400<<10)...)
	data = append(data, `/k"}`...)
	before := heapAlloc()
	for i := range 10_000 {
		copy(data[:head], fmt.Appendf(nil, `{"subject":"%040x","action":"read","key":"d%07d`, i, i))
		reader := outsider
		if i%2 == 1 {
			reader = root // an admin gets the explanation: its path must not cache either
		}
		_, err := checkQuery(a, reader, data)
		if !errors.Is(err, engine.ErrBadQuery) {
			t.Fatalf("query %d with a 400 KB key: want engine.ErrBadQuery, got %v", i, err)
		}
	}
	after := heapAlloc()
	grew := int64(after) - int64(before)
	t.Logf("10,000 check queries with fresh 400 KB keys: heap %d -> %d bytes (%+d)", before, after, grew)
	if grew > 50<<20 {
		t.Fatalf("heap grew by %d MB", grew>>20)
	}

	// Names within the limits (a 512-byte key, fresh domains, fresh
	// subjects) are answered, and leave nothing behind either.
	maxKey := int(types.DefaultParams().MaxKeyBytes)
	before = heapAlloc()
	for i := range 10_000 {
		dom := fmt.Sprintf("d%07d%s", i, strings.Repeat("y", maxKey-12))
		reader := outsider
		if i%2 == 1 {
			reader = root
		}
		sub := fmt.Sprintf("%040x", i)
		if i%3 == 0 {
			sub = root // a subject with grants, in a fresh domain
		}
		res, err := checkQuery(a, reader, checkData(sub, rbac.ActWrite, dom+"/k"))
		if err != nil {
			t.Fatalf("query %d with a %d-byte key: %v", i, len(dom)+2, err)
		}
		if res.Allowed != (sub == root) {
			t.Fatalf("query %d: %s write %.20s…: allowed=%v", i, sub, dom, res.Allowed)
		}
	}
	after = heapAlloc()
	grew = int64(after) - int64(before)
	t.Logf("10,000 check queries with fresh %d-byte keys: heap %d -> %d bytes (%+d)", maxKey, before, after, grew)
	if grew > 2<<20 {
		t.Fatalf("heap grew by %d KB for names within the limits: something caches what queries name", grew>>10)
	}
}

// TestAttackCheckRefusesOversizedNames (attack 6): every name a check
// query carries is bounded and well formed before it is looked up.
func TestAttackCheckRefusesOversizedNames(t *testing.T) {
	e, a := bankChain(t)
	maxKey := int(e.Reader().Params().MaxKeyBytes)
	outsider := typestest.Addr("outsider")
	for _, c := range []struct {
		what string
		req  types.CheckRequest
	}{
		{"key over MaxKeyBytes", types.CheckRequest{Subject: outsider, Action: rbac.ActRead, Key: strings.Repeat("k", maxKey+1)}},
		{"domain over MaxKeyBytes", types.CheckRequest{Subject: outsider, Action: rbac.ActAdmin, Key: strings.Repeat("d", maxKey+1) + "/"}},
		{"long subject", types.CheckRequest{Subject: strings.Repeat("s", 200), Action: rbac.ActRead, Key: "bank1/x"}},
		{"unknown role", types.CheckRequest{Subject: "no-such-role", Action: rbac.ActRead, Key: "bank1/x"}},
		{"malformed subject", types.CheckRequest{Subject: "a b", Action: rbac.ActRead, Key: "bank1/x"}},
		{"bad action", types.CheckRequest{Subject: outsider, Action: strings.Repeat("r", 1000), Key: "bank1/x"}},
		{"control character", types.CheckRequest{Subject: outsider, Action: rbac.ActRead, Key: "bank1/\x00"}},
	} {
		data, _ := json.Marshal(c.req)
		if _, err := checkQuery(a, outsider, data); !errors.Is(err, engine.ErrBadQuery) {
			t.Errorf("%s: want engine.ErrBadQuery, got %v", c.what, err)
		}
	}
	// Known roles, "anyone", addresses and the unsigned subject are fine.
	for _, sub := range []string{"teller", rbac.AdminRole, rbac.Anyone, outsider, ""} {
		if _, err := checkQuery(a, outsider, checkData(sub, rbac.ActRead, "bank1/x")); err != nil {
			t.Errorf("subject %q: %v", sub, err)
		}
	}
	// Through App.Query, a refusal is the BAD_QUERY code.
	_, err := checkQuery(a, outsider, checkData(outsider, rbac.ActRead, strings.Repeat("k", maxKey+1)))
	resp := queryErr(&abcitypes.ResponseQuery{}, err)
	if resp.Code != uint32(types.CodeBadQuery) {
		t.Fatalf("code %d, want BAD_QUERY", resp.Code)
	}
}

// TestAttackPolicyReadableByAnyKey (attack 11): on ffeaeb3 any self-made
// key listed the whole policy. Now only admins (of any domain) and holders
// of the auditor role in "*" do; others asking about a decision get the
// decision alone, without the policy lines behind it.
func TestAttackPolicyReadableByAnyKey(t *testing.T) {
	e, a := bankChain(t)
	mustOK(t, runBlock(t, e, typestest.GovTx(t, e.Height(), []types.Op{typestest.Grant(typestest.Addr("aud"), rbac.AuditorRole, rbac.AllDomains)}, "root")), 0)
	policy := func(reader string) error {
		_, err := a.query(types.QueryPolicy, nil, 0, reader, &abcitypes.ResponseQuery{})
		return err
	}
	for _, who := range []string{"outsider", "teller1"} {
		if err := policy(typestest.Addr(who)); !errors.Is(err, engine.ErrUnauthorized) {
			t.Errorf("%s read the policy: %v", who, err)
		}
	}
	if err := policy(""); !errors.Is(err, engine.ErrUnauthorized) {
		t.Errorf("an unsigned reader read the policy: %v", err)
	}
	for _, who := range []string{"root", "b1", "aud"} {
		if err := policy(typestest.Addr(who)); err != nil {
			t.Errorf("%s may read the policy: %v", who, err)
		}
	}

	// The gateway's event filter asks with a throwaway key about another
	// subject: it still gets the decision.
	req := checkData(typestest.Addr("teller1"), rbac.ActWrite, "bank1/payments/1")
	res, err := checkQuery(a, typestest.Addr("throwaway"), req)
	if err != nil || !res.Allowed || len(res.Because) != 0 {
		t.Fatalf("a stranger's check: %+v %v (want allowed, no policy lines)", res, err)
	}
	res, err = checkQuery(a, typestest.Addr("teller1"), checkData(typestest.Addr("teller1"), rbac.ActWrite, "bank1/other"))
	if err != nil || res.Allowed || len(res.Because) != 0 {
		t.Fatalf("a denied check: %+v %v", res, err)
	}
	for _, who := range []string{"root", "aud"} {
		res, err = checkQuery(a, typestest.Addr(who), req)
		if err != nil || !res.Allowed || len(res.Because) != 1 || res.Because[0] != "p, teller, bank1, bank1/payments/*, write, allow" {
			t.Fatalf("%s's check: %+v %v (want the deciding line)", who, res, err)
		}
	}
}

// TestAttackSignedPolicyQueries (attacks 6 and 11) through App.Query with
// signed queries, as a self-made key sends them.
func TestAttackSignedPolicyQueries(t *testing.T) {
	_, a := bankChain(t)
	outsider := typestest.Key("outsider")
	n := uint64(0)
	next := func() uint64 { n++; return n }
	if res := signedRead(t, a, outsider, types.QueryPolicy, nil, next()); res.Code != uint32(types.CodeUnauthorized) {
		t.Fatalf("a self-made key listed the policy: code %d %s", res.Code, res.Log)
	}
	if res := signedRead(t, a, typestest.Key("root"), types.QueryPolicy, nil, next()); res.Code != 0 {
		t.Fatalf("the genesis admin: code %d %s", res.Code, res.Log)
	}
	big := strings.Repeat("x", 400<<10)
	for i := range 20 {
		res := signedRead(t, a, outsider, types.QueryCheck, checkData(typestest.Addr("root"), rbac.ActRead, fmt.Sprintf("d%d%s/k", i, big)), next())
		if res.Code != uint32(types.CodeBadQuery) {
			t.Fatalf("a 400 KB key: code %d %s", res.Code, res.Log)
		}
	}
	res := signedRead(t, a, outsider, types.QueryCheck, checkData(typestest.Addr("teller1"), rbac.ActWrite, "bank1/payments/1"), next())
	var cr types.CheckResult
	if res.Code != 0 || json.Unmarshal(res.Value, &cr) != nil || !cr.Allowed || len(cr.Because) != 0 {
		t.Fatalf("a stranger's check about teller1: code %d %s %+v", res.Code, res.Log, cr)
	}
}
