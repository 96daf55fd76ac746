package engine

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/rbac"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// gtxHarness is a chain with access control (threeOrgs) on which org1 and
// org2 each registered a participant (bank1 with key p1, bank2 with key
// p2), and "teller" may begin gtxs with both and write org1/ledger/*.
// Executors ("exec") hold no permission at all.
type gtxHarness struct {
	t   *testing.T
	e   *Engine
	now time.Time
}

const (
	opAction     = types.GtxOp_GTX_OP_ACTION
	opCompensate = types.GtxOp_GTX_OP_COMPENSATE
	opTry        = types.GtxOp_GTX_OP_TRY
	opConfirm    = types.GtxOp_GTX_OP_CONFIRM
	opCancel     = types.GtxOp_GTX_OP_CANCEL

	succeeded = types.GtxStatus_GTX_STATUS_SUCCEEDED
	failed    = types.GtxStatus_GTX_STATUS_FAILED
)

var participantKeys = map[string]string{"bank1": "p1", "bank2": "p2"}

func newGtxHarness(t *testing.T) *gtxHarness {
	t.Helper()
	h := &gtxHarness{t: t, e: newChain(t, storage.NewInMemoryStore(), threeOrgs(), "val1", "val2", "val3"), now: time.Unix(1_800_000_000, 0).UTC()}
	teller := typestest.Addr("teller")
	begin := func(org string) types.Op {
		return typestest.Policy(rbac.Rule{Subject: teller, Domain: org, Object: "participant/*", Action: rbac.ActGtxBegin}, false)
	}
	res := h.run(
		h.tx("a1", typestest.RegisterParticipant("bank1", "org1", "p1"), begin("org1"),
			typestest.Policy(rbac.Rule{Subject: teller, Domain: "org1", Object: "org1/ledger/*", Action: rbac.ActWrite}, false)),
		h.tx("a2", typestest.RegisterParticipant("bank2", "org2", "p2"), begin("org2")),
	)
	mustOK(t, res, 0)
	mustOK(t, res, 1)
	return h
}

// run finalizes and commits txs as the next block, one second after the
// last one.
func (h *gtxHarness) run(txs ...[]byte) *BlockResult {
	h.t.Helper()
	h.now = h.now.Add(time.Second)
	res, err := h.e.FinalizeBlock(Block{Height: h.e.Height() + 1, Time: h.now, Txs: txs})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.e.Commit(); err != nil {
		h.t.Fatal(err)
	}
	return res
}

func (h *gtxHarness) tx(signer string, ops ...types.Op) []byte {
	return typestest.GovTx(h.t, h.e.Height(), ops, signer)
}

// deadline is a deadline secs seconds after the next block's time.
func (h *gtxHarness) deadline(secs int) int64 {
	return h.now.Add(time.Duration(secs+1) * time.Second).UnixMilli()
}

// begin begins b (signed by teller) and fails the test unless it commits.
func (h *gtxHarness) begin(b *types.BeginGtx) {
	h.t.Helper()
	mustOK(h.t, h.run(h.tx("teller", typestest.Begin(b))), 0)
}

// answer submits, signed by an executor, the answer of b's branch
// participant to branch/op at attempt, and returns the tx's code.
func (h *gtxHarness) answer(b *types.BeginGtx, branch uint32, op types.GtxOp, attempt uint32, status types.GtxStatus) types.Code {
	h.t.Helper()
	key := participantKeys[b.Branches[branch].Participant]
	return h.run(h.tx("exec", typestest.Answer(h.t, typestest.Chain, b, branch, op, attempt, status, key))).Txs[0].Code
}

func (h *gtxHarness) mustAnswer(b *types.BeginGtx, branch uint32, op types.GtxOp, attempt uint32, status types.GtxStatus) {
	h.t.Helper()
	if c := h.answer(b, branch, op, attempt, status); c != types.CodeOK {
		h.t.Fatalf("answer %d/%s attempt %d: %s", branch, types.GtxOpName(op), attempt, c.Name())
	}
}

func (h *gtxHarness) gtx(gid string) *types.Gtx {
	h.t.Helper()
	g, err := h.e.Reader().Gtx(typestest.Addr("teller"), gid, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	return g
}

// gtxBytes is gtx gid's stored state, to show that something did not move it.
func (h *gtxHarness) gtxBytes(gid string) []byte {
	b, err := h.gtx(gid).Marshal()
	if err != nil {
		h.t.Fatal(err)
	}
	return b
}

// awaited lists the awaited steps of gid as branch/op.
func (h *gtxHarness) awaited(gid string) []string {
	var out []string
	for _, s := range h.gtx(gid).Steps {
		if s.State == types.GtxStepState_GTX_STEP_AWAITED {
			out = append(out, stepRef{s.Branch, s.Op}.String())
		}
	}
	return out
}

func (h *gtxHarness) wantPhase(gid string, p types.GtxPhase, awaited ...string) {
	h.t.Helper()
	g := h.gtx(gid)
	if g.Phase != p {
		h.t.Fatalf("gtx %s is %s, want %s", gid, types.GtxPhaseName(g.Phase), types.GtxPhaseName(p))
	}
	if got := h.awaited(gid); !slices.Equal(got, awaited) {
		h.t.Fatalf("gtx %s awaits %v, want %v", gid, got, awaited)
	}
}

func TestGtxSagaCommits(t *testing.T) {
	h := newGtxHarness(t)
	b := typestest.Saga("t1", h.deadline(60), "bank1", "bank2")
	b.CommitWrites = []types.GtxWrite{{Key: "org1/ledger/t1", Value: []byte("done")}}
	h.begin(b)
	h.wantPhase("t1", types.GtxPhase_GTX_PHASE_RUNNING, "0/action")
	h.mustAnswer(b, 0, opAction, 1, succeeded)
	h.wantPhase("t1", types.GtxPhase_GTX_PHASE_RUNNING, "1/action")
	if _, err := h.e.Reader().Get("org1/ledger/t1", 0); err == nil {
		t.Fatal("the commit write applied before the gtx committed")
	}
	res := h.run(h.tx("exec", typestest.Answer(t, typestest.Chain, b, 1, opAction, 1, succeeded, "p2")))
	mustOK(t, res, 0)
	h.wantPhase("t1", types.GtxPhase_GTX_PHASE_COMMITTED)
	if kv, err := h.e.Reader().Get("org1/ledger/t1", 0); err != nil || string(kv.Value) != "done" {
		t.Fatalf("commit write: %q %v", kv.Value, err)
	}
	if w := res.Txs[0].Writes; len(w) != 1 || w[0].Key != "org1/ledger/t1" {
		t.Fatalf("the deciding tx's writes: %v", w)
	}
	g := h.gtx("t1")
	if g.EndHeight != h.e.Height() || g.Steps[1].Signer != typestest.Addr("p2") || g.Steps[1].Submitter != typestest.Addr("exec") {
		t.Fatalf("journal: %+v", g)
	}
	if p, _ := h.e.Reader().GtxPending(typestest.Addr("teller"), &types.GtxPendingRequest{}); len(p.Work) != 0 {
		t.Fatalf("pending after commit: %v", p.Work)
	}
	// Every transition is an audit entry: begin and two answers.
	var steps []string
	es, err := h.e.Reader().AuditEntries(audit.EntriesRequest{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range es.Entries {
		if a.Kind == audit.KindGtxStep {
			steps = append(steps, a.Action+" "+a.Resources[1])
		}
	}
	want := []string{"gtx_begin phase:running", "gtx_answer phase:running", "gtx_answer phase:committed"}
	if !slices.Equal(steps, want) {
		t.Fatalf("gtx audit entries %v, want %v", steps, want)
	}
}

func TestGtxSagaFailureCompensatesInReverse(t *testing.T) {
	h := newGtxHarness(t)
	b := typestest.Saga("t2", h.deadline(60), "bank1", "bank2", "bank1")
	b.CommitWrites = []types.GtxWrite{{Key: "org1/ledger/t2", Value: []byte("done")}}
	h.begin(b)
	h.mustAnswer(b, 0, opAction, 1, succeeded)
	h.mustAnswer(b, 1, opAction, 1, succeeded)
	h.mustAnswer(b, 2, opAction, 1, failed)
	h.wantPhase("t2", types.GtxPhase_GTX_PHASE_ABORTING, "1/compensate")
	if g := h.gtx("t2"); g.AbortReason != gtxAbortFailed || g.AbortBranch != 2 {
		t.Fatalf("abort %q at %d", g.AbortReason, g.AbortBranch)
	}
	h.mustAnswer(b, 1, opCompensate, 1, succeeded)
	h.wantPhase("t2", types.GtxPhase_GTX_PHASE_ABORTING, "0/compensate")
	h.mustAnswer(b, 0, opCompensate, 1, succeeded)
	h.wantPhase("t2", types.GtxPhase_GTX_PHASE_ABORTED)
	if _, err := h.e.Reader().Get("org1/ledger/t2", 0); err == nil {
		t.Fatal("an aborted gtx applied its commit write")
	}
}

func TestGtxSagaDeadlineCompensatesTheAwaitedBranchToo(t *testing.T) {
	h := newGtxHarness(t)
	b := typestest.Saga("t3", h.deadline(5), "bank1", "bank2")
	h.begin(b)
	h.mustAnswer(b, 0, opAction, 1, succeeded)
	h.wantPhase("t3", types.GtxPhase_GTX_PHASE_RUNNING, "1/action")
	h.now = h.now.Add(10 * time.Second)
	h.run() // an empty block past the deadline
	h.wantPhase("t3", types.GtxPhase_GTX_PHASE_ABORTING, "1/compensate")
	if g := h.gtx("t3"); g.AbortReason != gtxAbortDeadline || g.Steps[1].State != types.GtxStepState_GTX_STEP_ABANDONED {
		t.Fatalf("after the deadline: %+v", g)
	}
	if c := h.answer(b, 1, opAction, 1, succeeded); c != types.CodeGtxNotAwaited {
		t.Fatalf("a late action answer: %s", c.Name())
	}
	h.mustAnswer(b, 1, opCompensate, 1, succeeded)
	h.mustAnswer(b, 0, opCompensate, 1, succeeded)
	h.wantPhase("t3", types.GtxPhase_GTX_PHASE_ABORTED)
}

func TestGtxTCCConfirmsWhenEveryTrySucceeds(t *testing.T) {
	h := newGtxHarness(t)
	b := typestest.TCC("c1", h.deadline(60), "bank1", "bank2")
	b.CommitWrites = []types.GtxWrite{{Key: "org1/ledger/c1", Value: []byte("x")}}
	h.begin(b)
	h.wantPhase("c1", types.GtxPhase_GTX_PHASE_RUNNING, "0/try", "1/try")
	h.mustAnswer(b, 1, opTry, 1, succeeded)
	h.mustAnswer(b, 0, opTry, 1, succeeded)
	h.wantPhase("c1", types.GtxPhase_GTX_PHASE_COMMITTING, "0/confirm", "1/confirm")
	if _, err := h.e.Reader().Get("org1/ledger/c1", 0); err != nil {
		t.Fatalf("the commit write applies at the decision: %v", err)
	}
	h.now = h.now.Add(time.Hour) // no deadline once the decision is commit
	h.mustAnswer(b, 0, opConfirm, 1, succeeded)
	h.mustAnswer(b, 1, opConfirm, 1, succeeded)
	h.wantPhase("c1", types.GtxPhase_GTX_PHASE_COMMITTED)
}

func TestGtxTCCCancelsOnAFailedTryOrTheDeadline(t *testing.T) {
	h := newGtxHarness(t)
	b := typestest.TCC("c2", h.deadline(60), "bank1", "bank2")
	h.begin(b)
	h.mustAnswer(b, 0, opTry, 1, succeeded)
	h.mustAnswer(b, 1, opTry, 1, failed)
	h.wantPhase("c2", types.GtxPhase_GTX_PHASE_ABORTING, "0/cancel") // bank2's try changed nothing
	h.mustAnswer(b, 0, opCancel, 1, succeeded)
	h.wantPhase("c2", types.GtxPhase_GTX_PHASE_ABORTED)

	d := typestest.TCC("c3", h.deadline(5), "bank1", "bank2")
	h.begin(d)
	h.mustAnswer(d, 0, opTry, 1, succeeded)
	h.now = h.now.Add(time.Minute)
	h.run()
	h.wantPhase("c3", types.GtxPhase_GTX_PHASE_ABORTING, "0/cancel", "1/cancel")
	if c := h.answer(d, 1, opTry, 1, succeeded); c != types.CodeGtxNotAwaited {
		t.Fatalf("a late try: %s", c.Name())
	}
	h.mustAnswer(d, 1, opCancel, 1, succeeded)
	h.mustAnswer(d, 0, opCancel, 1, succeeded)
	h.wantPhase("c3", types.GtxPhase_GTX_PHASE_ABORTED)
}

// A compensation that answers FAILED is recorded and awaited again with
// the next attempt; the old attempt's answer is then a duplicate.
func TestGtxMustSucceedStepsRetry(t *testing.T) {
	h := newGtxHarness(t)
	b := typestest.Saga("r1", h.deadline(60), "bank1", "bank2")
	h.begin(b)
	h.mustAnswer(b, 0, opAction, 1, succeeded)
	h.mustAnswer(b, 1, opAction, 1, failed)
	h.mustAnswer(b, 0, opCompensate, 1, failed)
	g := h.gtx("r1")
	if s := g.Steps[2]; s.State != types.GtxStepState_GTX_STEP_AWAITED || s.Attempt != 2 || s.Status != failed {
		t.Fatalf("after a failed compensation: %+v", s)
	}
	if c := h.answer(b, 0, opCompensate, 1, failed); c != types.CodeGtxDuplicateAnswer {
		t.Fatalf("the same failed answer again: %s", c.Name())
	}
	if c := h.answer(b, 0, opCompensate, 1, succeeded); c != types.CodeGtxNotAwaited {
		t.Fatalf("attempt 1 succeeding after it failed: %s", c.Name())
	}
	h.mustAnswer(b, 0, opCompensate, 2, succeeded)
	h.wantPhase("r1", types.GtxPhase_GTX_PHASE_ABORTED)
}

func TestGtxReads(t *testing.T) {
	h := newGtxHarness(t)
	for _, gid := range []string{"a", "b", "c"} {
		h.begin(typestest.Saga(gid, h.deadline(60), "bank1", "bank2"))
	}
	r, teller := h.e.Reader(), typestest.Addr("teller")
	l, err := r.GtxList(teller, &types.GtxListRequest{Limit: 2})
	if err != nil || len(l.Gtxs) != 2 || l.Next != "b" {
		t.Fatalf("list page 1: %+v %v", l, err)
	}
	if l, err = r.GtxList(teller, &types.GtxListRequest{After: l.Next, Limit: 2}); err != nil || len(l.Gtxs) != 1 || l.Gtxs[0].Gid != "c" || l.Next != "" {
		t.Fatalf("list page 2: %+v %v", l, err)
	}
	p, err := r.GtxPending(teller, &types.GtxPendingRequest{Org: "org1"})
	if err != nil || len(p.Work) != 3 || p.Work[0].Endpoint != "http://bank1.test/" || !bytes.Equal(p.Work[0].Payload, []byte("a/0/action")) {
		t.Fatalf("pending: %+v %v", p, err)
	}
	if p, _ := r.GtxPending(teller, &types.GtxPendingRequest{Org: "org2"}); len(p.Work) != 0 {
		t.Fatalf("org2 has no due step: %+v", p.Work)
	}
	// Another reader sees nothing until granted read on gtx/*.
	if l, _ := r.GtxList(typestest.Addr("exec"), &types.GtxListRequest{}); len(l.Gtxs) != 0 {
		t.Fatalf("exec lists %d gtxs without permission", len(l.Gtxs))
	}
	if _, err := r.Gtx(typestest.Addr("exec"), "a", 0); err == nil {
		t.Fatal("exec read a gtx without permission")
	}
	if p, err := r.Participant("bank2"); err != nil || p.Org != "org2" || !bytes.Equal(p.PubKey, typestest.Key("p2").PubKey()) {
		t.Fatalf("participant: %+v %v", p, err)
	}
}

// The contract's names are the policy's.
func TestGtxContractNames(t *testing.T) {
	if types.GtxBeginAction != rbac.ActGtxBegin {
		t.Fatalf("types.GtxBeginAction %q, rbac.ActGtxBegin %q", types.GtxBeginAction, rbac.ActGtxBegin)
	}
	if err := (rbac.Rule{Subject: "teller", Domain: "org1", Object: types.GtxParticipantObject("bank1"), Action: rbac.ActGtxBegin}).Validate(); err != nil {
		t.Fatal(err)
	}
}

// GtxDeadline makes a block (on a chain that makes blocks only for txs):
// before the deadline it changes nothing, at it the gtx rolls back, and on
// an ended gtx it is refused.
func TestGtxDeadlineOp(t *testing.T) {
	h := newGtxHarness(t)
	b := typestest.Saga("d1", h.deadline(30), "bank1")
	h.begin(b)
	op := types.Op{Sum: &types.Op_GtxDeadline{GtxDeadline: &types.GtxDeadline{Gid: "d1"}}}
	before := h.gtxBytes("d1")
	if out := h.e.CheckTx(h.tx("exec", op)); out.Code != types.CodeOK {
		t.Fatalf("CheckTx: %s %s", out.Code.Name(), out.Log)
	}
	mustOK(t, h.run(h.tx("exec", op)), 0)
	if !bytes.Equal(h.gtxBytes("d1"), before) {
		t.Fatal("a deadline op before the deadline moved the gtx")
	}
	// The block-start sweep and the op apply the same rule; here the op's
	// own tx is the first to see the deadline reached in its block.
	h.now = h.now.Add(time.Minute)
	st := &staged{height: h.e.Height() + 1, latest: map[string]int{}, time: h.now}
	d := h.e.decode(h.tx("exec", op))
	if err := h.e.applyGtxDeadline(st, d, 0, "d1", nil); err != nil || d.code != types.CodeOK {
		t.Fatalf("apply: %v %s", err, d.code.Name())
	}
	if len(st.gtxEvents) != 1 || st.gtxEvents[0].phase != types.GtxPhase_GTX_PHASE_ABORTING {
		t.Fatalf("events %+v", st.gtxEvents)
	}
	h.run(h.tx("exec", op))
	h.wantPhase("d1", types.GtxPhase_GTX_PHASE_ABORTING, "0/compensate")
	h.mustAnswer(b, 0, opCompensate, 1, succeeded)
	if c := h.run(h.tx("exec", op)).Txs[0].Code; c != types.CodeGtxNotAwaited {
		t.Fatalf("deadline op on an ended gtx: %s", c.Name())
	}
	nf := types.Op{Sum: &types.Op_GtxDeadline{GtxDeadline: &types.GtxDeadline{Gid: "nosuch"}}}
	if c := h.run(h.tx("exec", nf)).Txs[0].Code; c != types.CodeGtxNotFound {
		t.Fatalf("deadline op on no gtx: %s", c.Name())
	}
}

// Every state namespace has its own prefix byte: a shared one would mix
// records (and a derived namespace's byte would take state out of the
// state hash).
func TestNamespacesDistinct(t *testing.T) {
	seen := map[byte]int{}
	for i, ns := range []byte{nsUser, nsTx, nsParams, nsReplay, nsRBAC, nsKey, nsIdentity, nsOrg, nsValidator,
		nsEvidence, nsAudit, nsHead, nsCommitTime, nsSettled, nsBlockTime, nsDigest, nsNode,
		nsParticipant, nsGtxDef, nsGtx, nsGtxOpen} {
		if j, dup := seen[ns]; dup {
			t.Errorf("namespaces %d and %d share %q", j, i, ns)
		}
		seen[ns] = i
		if isDerived([]byte{ns}) != slices.Contains([]byte{nsAudit, nsHead, nsCommitTime, nsSettled, nsBlockTime, nsDigest}, ns) {
			t.Errorf("namespace %q: derived %v", ns, isDerived([]byte{ns}))
		}
	}
}
