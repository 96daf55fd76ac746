package executor_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/transport/branchapi"
	"github.com/dstt/dstt/transport/client"
	"github.com/dstt/dstt/transport/client/cometrpc"
	"github.com/dstt/dstt/transport/executor"
	"github.com/dstt/dstt/transport/internal/testnode"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// world is one node, two banks with their own PostgreSQL and participant
// service, and executor keys (consortium members the banks trust).
type world struct {
	t      testing.TB
	node   *testnode.Node
	admin  *client.Client
	a, b   *bank
	execs  []*security.LocalSigner
	total  int64
	gids   []string
	banned *security.LocalSigner // a key no participant is registered with
}

const initialAlice, initialBob = 1000, 500

func newWorld(t testing.TB) *world {
	t.Helper()
	n := testnode.Start(t, testnode.Options{})
	w := &world{t: t, node: n, execs: []*security.LocalSigner{typestest.Key("exec-1"), typestest.Key("exec-2")}, banned: typestest.Key("banned")}
	w.admin = cometrpc.NewFromRPC(n.Node.Client(), client.WithSigner(n.Admin))
	trusted := [][]byte{w.execs[0].PubKey(), w.execs[1].PubKey()}
	w.a = startBank(t, "bank-a", n.ChainID, trusted, typestest.Key("bank-a"), map[string]int64{"alice": initialAlice})
	w.b = startBank(t, "bank-b", n.ChainID, trusted, typestest.Key("bank-b"), map[string]int64{"bob": initialBob, "carol": 0})
	if _, err := w.b.db.Exec(`UPDATE accounts SET closed = true WHERE id = 'carol'`); err != nil {
		t.Fatal(err)
	}
	w.total = initialAlice + initialBob
	for _, bk := range []*bank{w.a, w.b} {
		w.submit(types.Op{Sum: &types.Op_RegisterParticipant{RegisterParticipant: &types.RegisterParticipant{
			Id: bk.id, Org: "org-" + bk.id, PubKey: bk.key.PubKey(), Endpoint: bk.srv.URL,
		}}})
	}
	return w
}

func (w *world) submit(ops ...types.Op) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := w.admin.SubmitOps(ctx, ops...); err != nil {
		w.t.Fatal(err)
	}
}

// runExecutor starts an executor signing with key; stop kills it and
// returns once it has stopped.
func (w *world) runExecutor(key *security.LocalSigner) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	c := cometrpc.NewFromRPC(w.node.Node.Client(), client.WithSigner(key))
	cfg := executor.DefaultConfig()
	cfg.Signer = key
	cfg.MaxBackoff = 500 * time.Millisecond
	done := make(chan error, 1)
	go func() { done <- executor.RunNode(ctx, c, "", cfg) }()
	var stopped bool
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			w.t.Errorf("executor ended with %v", err)
		}
	}
	w.t.Cleanup(stop)
	return stop
}

func payload(acct string, delta int64) []byte {
	b, _ := json.Marshal(move{Account: acct, Delta: delta})
	return b
}

// transfer begins a gtx moving amount from alice (bank A) to acct (bank B).
func (w *world) transfer(gid string, mode types.GtxMode, to string, amount int64) {
	w.t.Helper()
	w.transferBy(gid, mode, to, amount, time.Now().Add(time.Hour))
}

func (w *world) transferBy(gid string, mode types.GtxMode, to string, amount int64, deadline time.Time) {
	w.t.Helper()
	debit, credit := payload("alice", -amount), payload(to, amount)
	undoDebit, undoCredit := payload("alice", amount), payload(to, -amount)
	var branches []types.GtxBranch
	if mode == types.GtxMode_GTX_MODE_SAGA {
		branches = []types.GtxBranch{
			{Participant: "bank-a", Action: debit, Compensate: undoDebit},
			{Participant: "bank-b", Action: credit, Compensate: undoCredit},
		}
	} else {
		branches = []types.GtxBranch{
			{Participant: "bank-a", Try: debit, Confirm: debit, Cancel: debit},
			{Participant: "bank-b", Try: credit, Confirm: credit, Cancel: credit},
		}
	}
	w.submit(types.Op{Sum: &types.Op_BeginGtx{BeginGtx: &types.BeginGtx{
		Gid: gid, Mode: mode, Branches: branches, DeadlineUnixMs: deadline.UnixMilli(),
	}}})
	w.gids = append(w.gids, gid)
}

func (w *world) gtx(gid string) *types.Gtx {
	w.t.Helper()
	g, err := w.admin.Gtx(context.Background(), gid)
	if err != nil {
		w.t.Fatalf("gtx %s: %v", gid, err)
	}
	return g
}

// await waits for gtx gid to reach a final phase and returns it.
func (w *world) await(gid string) *types.Gtx {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	g, err := w.admin.AwaitGtx(ctx, gid, 20*time.Millisecond, nil)
	if err != nil {
		w.t.Fatalf("gtx %s: %v (%+v)", gid, err, g)
	}
	return g
}

// checkInvariants: money conserved across both databases, no operation
// applied twice, no hold left, every gtx final.
func (w *world) checkInvariants() {
	w.t.Helper()
	sum := w.a.scalar(w.t, `SELECT coalesce(sum(balance), 0) FROM accounts`) + w.b.scalar(w.t, `SELECT coalesce(sum(balance), 0) FROM accounts`)
	if sum != w.total {
		w.t.Errorf("money not conserved: %d in both banks, want %d", sum, w.total)
	}
	for _, bk := range []*bank{w.a, w.b} {
		if n := bk.scalar(w.t, `SELECT count(*) FROM (SELECT 1 FROM journal GROUP BY gid, branch, op HAVING count(*) > 1) d`); n != 0 {
			w.t.Errorf("%s applied %d operations more than once", bk.id, n)
		}
		if n := bk.scalar(w.t, `SELECT count(*) FROM holds`); n != 0 {
			w.t.Errorf("%s holds %d reservations after every gtx ended", bk.id, n)
		}
		if n := bk.scalar(w.t, `SELECT count(*) FROM journal j WHERE NOT EXISTS (SELECT 1 FROM dstt_gtx_barrier b WHERE b.gid = j.gid AND b.branch = j.branch AND b.op = j.op)`); n != 0 {
			w.t.Errorf("%s applied %d operations without a barrier row", bk.id, n)
		}
	}
	for _, gid := range w.gids {
		if g := w.gtx(gid); !g.Phase.IsFinal() {
			w.t.Errorf("gtx %s ended the test %s", gid, g.Phase)
		}
	}
}

func (w *world) want(gid string, phase types.GtxPhase, alice, bob int64) {
	w.t.Helper()
	g := w.await(gid)
	if g.Phase != phase {
		w.t.Errorf("gtx %s ended %s (%s), want %s", gid, g.Phase, g.AbortReason, phase)
	}
	if a, b := w.a.balance(w.t, "alice"), w.b.balance(w.t, "bob"); a != alice || b != bob {
		w.t.Errorf("after %s: alice %d, bob %d; want %d, %d", gid, a, b, alice, bob)
	}
}

// TestInterbankTransfer runs an interbank transfer as a saga and as TCC
// through a real node, two PostgreSQL-backed banks and real executors,
// with faults: a failing second step, an executor killed mid-gtx, a
// participant crashed mid-branch, an answer signed by the wrong key.
func TestInterbankTransfer(t *testing.T) {
	w := newWorld(t)
	saga, tcc := types.GtxMode_GTX_MODE_SAGA, types.GtxMode_GTX_MODE_TCC
	committed, aborted := types.GtxPhase_GTX_PHASE_COMMITTED, types.GtxPhase_GTX_PHASE_ABORTED

	w.wrongKeyRefused("wrongkey-1")

	stop1 := w.runExecutor(w.execs[0])
	w.transfer("saga-ok", saga, "bob", 30)
	w.want("saga-ok", committed, 970, 530)
	w.transfer("saga-fail", saga, "carol", 30) // carol's account is closed: step 2 fails
	w.want("saga-fail", aborted, 970, 530)
	w.transfer("tcc-ok", tcc, "bob", 20)
	w.want("tcc-ok", committed, 950, 550)
	w.transfer("tcc-fail", tcc, "carol", 20)
	w.want("tcc-fail", aborted, 950, 550)

	// kill the executor while bank B's step of a gtx hangs; another
	// organisation's executor finishes it
	hung := w.b.hangOnce("saga-kill")
	w.transfer("saga-kill", saga, "bob", 50)
	<-w.waitClosed(hung, stop1)
	w.runExecutor(w.execs[1])
	w.want("saga-kill", committed, 900, 600)
	w.want("wrongkey-1", committed, 900, 600)
	w.participantCrash("saga-crash")
	w.want("saga-crash", committed, 875, 625)
	w.slowerThanDeadline("saga-late")

	g := w.gtx("saga-fail")
	if g.AbortReason != "failed" || g.AbortBranch != 1 {
		t.Errorf("saga-fail aborted for %q at branch %d, want failed at 1", g.AbortReason, g.AbortBranch)
	}
	w.checkInvariants()
}

// waitClosed kills the executor (stop) once the hung request is under way,
// and returns a channel closed when the bank saw its caller give up.
func (w *world) waitClosed(hung <-chan struct{}, stop func()) <-chan struct{} {
	w.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for w.b.pendingHang("saga-kill") {
		if time.Now().After(deadline) {
			w.t.Fatal("no executor called bank B for saga-kill")
		}
		time.Sleep(10 * time.Millisecond) // polls the bank's state, bounded by the deadline above
	}
	stop()
	return hung
}

// wrongKeyRefused begins a transfer and, before any executor runs, answers
// its first step with bank A's answer signed by a key that is not bank
// A's registered key: the chain refuses it and the gtx does not move.
func (w *world) wrongKeyRefused(gid string) {
	t := w.t
	w.transfer(gid, types.GtxMode_GTX_MODE_SAGA, "bob", 0)
	c := cometrpc.NewFromRPC(w.node.Node.Client(), client.WithSigner(w.execs[0]))
	chain := &executor.NodeChain{Client: c}
	steps, err := chain.Pending(context.Background())
	if err != nil || len(steps) != 1 || steps[0].GID != gid {
		t.Fatalf("pending work %+v (%v), want the first step of %s", steps, err, gid)
	}
	s := steps[0]
	req := branchapi.Request{ChainID: w.node.ChainID, GID: gid, Branch: s.Branch, Operation: s.Operation,
		Attempt: s.Attempt, Participant: s.Participant, Payload: s.Payload}
	forged := branchapi.Answer{Outcome: branchapi.OutcomeSucceeded, PubKey: w.banned.PubKey()}
	forged.Signature, _ = w.banned.Sign(req.SignBytes(forged))
	stolen := forged // the right key's name on the wrong key's signature
	stolen.PubKey = w.a.key.PubKey()
	before := w.gtx(gid)
	for name, ans := range map[string]branchapi.Answer{"wrong key": forged, "wrong signature": stolen} {
		err := chain.Submit(context.Background(), s, ans)
		var te *client.TxError
		if !errors.As(err, &te) || te.Code != types.CodeGtxWrongSigner {
			t.Errorf("%s: submitting it gave %v, want code %s", name, err, types.CodeGtxWrongSigner.Name())
		}
	}
	if after := w.gtx(gid); fmt.Sprint(after.Steps) != fmt.Sprint(before.Steps) || after.Phase != before.Phase {
		t.Errorf("a refused answer moved the gtx: %+v -> %+v", before.Steps, after.Steps)
	}
}

// slowerThanDeadline: bank B takes longer than the gtx's deadline over
// its action. Past the deadline the executor submits the gtx's deadline
// (the chain makes blocks only for txs), the chain rolls the gtx back and
// compensates both branches (B's action may have run); B's
// compensation comes first, so the late action, when it runs, is blocked
// by the barrier. Balances are as before.
func (w *world) slowerThanDeadline(gid string) {
	t := w.t
	alice, bob := w.a.balance(t, "alice"), w.b.balance(t, "bob")
	release := make(chan struct{})
	arrived, done := w.b.slowOnce(gid, release)
	w.transferBy(gid, types.GtxMode_GTX_MODE_SAGA, "bob", 40, time.Now().Add(2*time.Second))
	select {
	case <-arrived:
	case <-time.After(time.Minute):
		t.Fatal("no executor called bank B")
	}
	g := w.await(gid)
	close(release) // the late action now reaches bank B
	if g.Phase != types.GtxPhase_GTX_PHASE_ABORTED || g.AbortReason != "deadline" {
		t.Fatalf("gtx %s ended %s (%q), want ABORTED for the deadline", gid, g.Phase, g.AbortReason)
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("bank B never answered the late action")
	}
	if a, b := w.a.balance(t, "alice"), w.b.balance(t, "bob"); a != alice || b != bob {
		t.Errorf("after %s: alice %d, bob %d; want %d, %d", gid, a, b, alice, bob)
	}
	if n := w.b.scalar(t, `SELECT count(*) FROM journal WHERE gid = 'saga-late' AND op = 'action'`); n != 0 {
		t.Errorf("bank B applied the action that came after its compensation")
	}
}

// participantCrash transfers 25 to bob and crashes bank B's service while
// its action is in flight, after its writes and before its commit: its
// connections are cut and its PostgreSQL session terminated (the database
// rolls the transaction back). Nothing of the action is left; the gtx
// waits; the service restarts on the same address and the executor's
// retry applies the action once (checked by checkInvariants' journal).
func (w *world) participantCrash(gid string) {
	t := w.t
	pids := w.b.crashOnce(gid)
	w.transfer(gid, types.GtxMode_GTX_MODE_SAGA, "bob", 25)
	var pid int
	select {
	case pid = <-pids:
	case <-time.After(time.Minute):
		t.Fatalf("no executor called bank B for %s", gid)
	}
	w.b.kill(t, pid)
	if n := w.b.scalar(t, `SELECT count(*) FROM journal WHERE gid = '`+gid+`'`) +
		w.b.scalar(t, `SELECT count(*) FROM dstt_gtx_barrier WHERE gid = '`+gid+`'`); n != 0 {
		t.Errorf("bank B kept %d rows of the crashed action", n)
	}
	if g := w.gtx(gid); g.Phase.IsFinal() {
		t.Errorf("gtx %s ended %s while bank B was down", gid, g.Phase)
	}
	w.b.restart(t)
}
