package abci

import (
	"context"
	"testing"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/dstt/dstt/abci/engine"
	"github.com/dstt/dstt/rbac"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// The gtx query paths through App.Query: on a chain with access control a
// gtx is readable by its creator and by readers granted read on gtx/*;
// participants are open.
func TestGtxQueries(t *testing.T) {
	g := engine.DefaultGenesisState()
	g.Admins = []string{typestest.Addr("admin")}
	g.Orgs = []types.Org{{ID: "org1", Admins: []string{typestest.Addr("admin")}}}
	e := newChain(t, g)
	a := NewApp(e, nil)
	now := time.Unix(1_800_000_000, 0)
	run := func(txs ...[]byte) *engine.BlockResult {
		now = now.Add(time.Second)
		res, err := e.FinalizeBlock(engine.Block{Height: e.Height() + 1, Time: now, Txs: txs})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Commit(); err != nil {
			t.Fatal(err)
		}
		return res
	}
	b := typestest.Saga("q1", now.Add(time.Minute).UnixMilli(), "bank1")
	mustOK(t, run(typestest.GovTx(t, e.Height(), []types.Op{typestest.RegisterParticipant("bank1", "org1", "p1"), typestest.Begin(b)}, "admin")), 0)

	open := func(path string, data []byte) *abcitypes.ResponseQuery {
		res, err := a.Query(context.Background(), &abcitypes.RequestQuery{Path: path, Data: data})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := open(types.QueryGtxParticipant, []byte("bank1")); res.Code != 0 {
		t.Fatalf("participant: %d %s", res.Code, res.Log)
	}
	if res := open(types.QueryGtx, []byte("q1")); res.Code != uint32(types.CodeUnauthorized) {
		t.Fatalf("an unsigned read of a gtx: %d %s", res.Code, res.Log)
	}
	res := signedRead(t, a, typestest.Key("admin"), types.QueryGtx, []byte("q1"), 1)
	var got types.Gtx
	if res.Code != 0 || got.Unmarshal(res.Value) != nil || got.Phase != types.GtxPhase_GTX_PHASE_RUNNING || len(got.Branches) != 1 {
		t.Fatalf("the creator's read: %d %s %+v", res.Code, res.Log, got)
	}
	req, _ := (&types.GtxPendingRequest{Limit: 10}).Marshal()
	var p types.GtxPending
	if res := signedRead(t, a, typestest.Key("exec"), types.QueryGtxPending, req, 2); res.Code != 0 || p.Unmarshal(res.Value) != nil || len(p.Work) != 0 {
		t.Fatalf("pending for a reader without read on gtx/*: %d %s %+v", res.Code, res.Log, p)
	}
	grant := typestest.Policy(rbac.Rule{Subject: typestest.Addr("exec"), Domain: "gtx", Object: "gtx/*", Action: rbac.ActRead}, false)
	mustOK(t, run(typestest.GovTx(t, e.Height(), []types.Op{grant}, "admin")), 0)
	if res := signedRead(t, a, typestest.Key("exec"), types.QueryGtxPending, req, 3); res.Code != 0 || p.Unmarshal(res.Value) != nil || len(p.Work) != 1 || p.Work[0].Op != types.GtxOp_GTX_OP_ACTION {
		t.Fatalf("pending for an executor: %d %s %+v", res.Code, res.Log, p)
	}
	if res := open(types.QueryGtxList, []byte{0xff}); res.Code != uint32(types.CodeBadQuery) {
		t.Fatalf("a malformed list request: %d %s", res.Code, res.Log)
	}
}
