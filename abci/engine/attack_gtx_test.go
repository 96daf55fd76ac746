package engine

import (
	"bytes"
	"testing"

	"github.com/dstt/dstt/rbac"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// Attacks on global transactions: no forged, replayed, wrong-participant or
// substituted branch answer moves a gtx. Each is refused with its stable
// code in FinalizeBlock (as a byzantine proposer could include it) and in
// CheckTx, and the gtx's state stays byte for byte what it was.
func TestAttackGtxAnswers(t *testing.T) {
	h := newGtxHarness(t)
	b := typestest.Saga("victim", h.deadline(600), "bank1", "bank2")
	other := typestest.Saga("other", h.deadline(600), "bank2", "bank1")
	h.begin(b)
	h.begin(other)
	h.mustAnswer(b, 0, opAction, 1, succeeded) // victim now awaits 1/action (bank2)
	ans := func(gid, part string, branch uint32, op types.GtxOp, attempt uint32, payload []byte, status types.GtxStatus, key string) types.Op {
		return typestest.AnswerOver(t, typestest.Chain, gid, part, branch, op, attempt, payload, status, nil, key)
	}
	payload1 := b.Branches[1].Action
	good := ans("victim", "bank2", 1, opAction, 1, payload1, succeeded, "p2")
	resign := func(op types.Op, mutate func(a *types.GtxAnswer)) types.Op {
		a := *op.GetGtxAnswer()
		mutate(&a)
		return types.Op{Sum: &types.Op_GtxAnswer{GtxAnswer: &a}}
	}
	cases := []struct {
		name string
		op   types.Op
		want types.Code
	}{
		{"signed by another participant's key", ans("victim", "bank2", 1, opAction, 1, payload1, succeeded, "p1"), types.CodeGtxWrongSigner},
		{"signed by an executor's key", ans("victim", "bank2", 1, opAction, 1, payload1, succeeded, "exec"), types.CodeGtxWrongSigner},
		{"forged signature, right key", resign(good, func(a *types.GtxAnswer) { a.Signature = bytes.Repeat([]byte{7}, 64) }), types.CodeGtxWrongSigner},
		{"status flipped after signing", resign(good, func(a *types.GtxAnswer) { a.Status = failed }), types.CodeGtxWrongSigner},
		{"result changed after signing", resign(good, func(a *types.GtxAnswer) { a.Result = []byte("x") }), types.CodeGtxWrongSigner},
		{"payload substituted by the executor", ans("victim", "bank2", 1, opAction, 1, []byte("pay 1000000"), succeeded, "p2"), types.CodeGtxWrongSigner},
		{"signed for another chain", typestest.AnswerOver(t, "other-chain", "victim", "bank2", 1, opAction, 1, payload1, succeeded, nil, "p2"), types.CodeGtxWrongSigner},
		// The same participant's genuine answer for other steps, replayed here.
		{"replayed from another gtx", resign(ans("other", "bank2", 0, opAction, 1, other.Branches[0].Action, succeeded, "p2"), func(a *types.GtxAnswer) { a.Gid, a.Branch = "victim", 1 }), types.CodeGtxWrongSigner},
		{"replayed onto another op", resign(ans("victim", "bank2", 1, opCompensate, 1, b.Branches[1].Compensate, succeeded, "p2"), func(a *types.GtxAnswer) { a.Op = opAction }), types.CodeGtxWrongSigner},
		{"replayed onto another attempt", resign(ans("victim", "bank2", 1, opAction, 2, payload1, succeeded, "p2"), func(a *types.GtxAnswer) { a.Attempt = 1 }), types.CodeGtxWrongSigner},
		{"a step not awaited", ans("victim", "bank2", 1, opCompensate, 1, b.Branches[1].Compensate, succeeded, "p2"), types.CodeGtxNotAwaited},
		{"an attempt not awaited", ans("victim", "bank2", 1, opAction, 2, payload1, succeeded, "p2"), types.CodeGtxNotAwaited},
		{"a branch already answered", ans("victim", "bank1", 0, opAction, 1, b.Branches[0].Action, failed, "p1"), types.CodeGtxNotAwaited},
		{"a branch the gtx lacks", ans("victim", "bank2", 9, opAction, 1, payload1, succeeded, "p2"), types.CodeGtxNotAwaited},
		{"an op of the other mode", ans("victim", "bank2", 1, opTry, 1, nil, succeeded, "p2"), types.CodeGtxNotAwaited},
		{"an unknown gtx", ans("nosuch", "bank2", 1, opAction, 1, payload1, succeeded, "p2"), types.CodeGtxNotFound},
	}
	before := h.gtxBytes("victim")
	for _, c := range cases {
		tx := h.tx("exec", c.op)
		if out := h.e.CheckTx(tx); out.Code != c.want {
			t.Errorf("%s: CheckTx %s, want %s (%s)", c.name, out.Code.Name(), c.want.Name(), out.Log)
		}
		res := h.run(tx)
		if got := res.Txs[0].Code; got != c.want {
			t.Errorf("%s: FinalizeBlock %s, want %s (%s)", c.name, got.Name(), c.want.Name(), res.Txs[0].Log)
		}
		if !bytes.Equal(h.gtxBytes("victim"), before) {
			t.Fatalf("%s moved the gtx", c.name)
		}
	}
	// A tx carrying a refused answer next to a genuine one applies neither.
	res := h.run(h.tx("exec", good, cases[0].op))
	if res.Txs[0].Code != types.CodeGtxWrongSigner || !bytes.Equal(h.gtxBytes("victim"), before) {
		t.Fatalf("a tx with a forged answer moved the gtx: %s", res.Txs[0].Code.Name())
	}
	// The genuine answer still counts; sent again (another tx, another
	// executor) it is a harmless duplicate.
	mustOK(t, h.run(h.tx("exec", good)), 0)
	h.wantPhase("victim", types.GtxPhase_GTX_PHASE_COMMITTED)
	after := h.gtxBytes("victim")
	for _, ex := range []string{"exec", "exec2"} {
		if c := h.run(h.tx(ex, good)).Txs[0].Code; c != types.CodeGtxDuplicateAnswer {
			t.Fatalf("duplicate from %s: %s", ex, c.Name())
		}
	}
	if !bytes.Equal(h.gtxBytes("victim"), after) {
		t.Fatal("a duplicate answer changed the gtx")
	}
}

// Who may begin and register: gtx:begin on each branch's participant,
// write on each commit key, admin of the participant's org.
func TestAttackGtxPermissions(t *testing.T) {
	h := newGtxHarness(t)
	cases := []struct {
		name   string
		signer string
		op     types.Op
		want   types.Code
	}{
		{"begin without gtx:begin", "mallory", typestest.Begin(typestest.Saga("m1", h.deadline(60), "bank1")), types.CodeUnauthorized},
		{"begin with a participant of an org that did not allow it", "teller2", typestest.Begin(typestest.Saga("m2", h.deadline(60), "bank1", "bank2")), types.CodeUnauthorized},
		{"begin with commit writes the signer may not write", "teller", typestest.Begin(func() *types.BeginGtx {
			b := typestest.Saga("m3", h.deadline(60), "bank1")
			b.CommitWrites = []types.GtxWrite{{Key: "org2/ledger/x", Value: []byte("1")}}
			return b
		}()), types.CodeUnauthorized},
		{"begin with an unknown participant", "teller", typestest.Begin(typestest.Saga("m4", h.deadline(60), "bank9")), types.CodeGtxUnknownParticipant},
		{"register in another org's domain", "a1", typestest.RegisterParticipant("evil", "org2", "mallory"), types.CodeUnauthorized},
		{"take over another org's participant", "a1", typestest.RegisterParticipant("bank2", "org1", "mallory"), types.CodeGtxExists},
		{"change another org's participant key", "a1", typestest.RegisterParticipant("bank2", "org2", "mallory"), types.CodeUnauthorized},
		{"register by a non-admin", "mallory", typestest.RegisterParticipant("m", "org1", "mallory"), types.CodeUnauthorized},
		{"remove another org's participant", "a1", types.Op{Sum: &types.Op_RemoveParticipant{RemoveParticipant: &types.RemoveParticipant{Id: "bank2"}}}, types.CodeUnauthorized},
	}
	// teller2 may begin with org2's participants only.
	mustOK(t, h.run(h.tx("a2", typestest.Policy(rbac.Rule{Subject: typestest.Addr("teller2"), Domain: "org2", Object: "participant/*", Action: rbac.ActGtxBegin}, false))), 0)
	for _, c := range cases {
		tx := h.tx(c.signer, c.op)
		if out := h.e.CheckTx(tx); out.Code != c.want {
			t.Errorf("%s: CheckTx %s, want %s (%s)", c.name, out.Code.Name(), c.want.Name(), out.Log)
		}
		if got := h.run(tx).Txs[0]; got.Code != c.want {
			t.Errorf("%s: FinalizeBlock %s, want %s (%s)", c.name, got.Code.Name(), c.want.Name(), got.Log)
		}
	}
	if p, _ := h.e.Reader().Participant("bank2"); p.Org != "org2" || !bytes.Equal(p.PubKey, typestest.Key("p2").PubKey()) {
		t.Fatalf("bank2 changed: %+v", p)
	}
	if l, _ := h.e.Reader().GtxList(typestest.Addr("teller"), &types.GtxListRequest{}); len(l.Gtxs) != 0 {
		t.Fatalf("a refused begin left gtxs: %+v", l.Gtxs)
	}
	// The participant's own org may rotate its key; an open gtx pins it.
	mustOK(t, h.run(h.tx("a2", typestest.RegisterParticipant("bank2", "org2", "p2b"))), 0)
	h.begin(typestest.Saga("pin", h.deadline(60), "bank2"))
	rm := types.Op{Sum: &types.Op_RemoveParticipant{RemoveParticipant: &types.RemoveParticipant{Id: "bank2"}}}
	if c := h.run(h.tx("a2", rm)).Txs[0].Code; c != types.CodeInvalidOp {
		t.Fatalf("removing a participant of an open gtx: %s", c.Name())
	}
}
