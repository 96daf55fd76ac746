package engine

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// The workload's global transactions: participants part0..part2 of
// org0..org2 (registered by their org's admin or, refused, by someone
// else; now and then re-registered with another key), gtxs in both modes
// over one to three branches (part3 is never registered) with deadlines a
// few block-seconds away, deadline ops, and answers to the committed pending work:
// mostly genuine (succeeded or failed), some signed by the wrong key or
// for the wrong attempt, some old answers sent again.

// partKey names the test key participant i registers with: generation 0
// or 1.
func partKey(i, gen int) string { return fmt.Sprintf("part%d-key%d", i, gen) }

// gtxTx is a tx of one gtx op. It draws from w.grng only, so the rest of
// the workload is the same with or without it.
func (w *workload) gtxTx(t testing.TB, height uint64) []byte {
	w.gtxNonce++
	body := &types.TxBody{ChainId: typestest.Chain, Nonce: 1<<40 + w.gtxNonce, ValidUntilHeight: height + uint64(w.grng.Intn(5))}
	signer := 0 // the chain-wide admin: may register and begin anywhere
	if w.grng.Intn(5) == 0 {
		signer = w.grng.Intn(len(w.signers))
	}
	switch r := w.grng.Intn(20); {
	case r < 2:
		i := w.grng.Intn(3)
		body.Ops = append(body.Ops, typestest.RegisterParticipant(fmt.Sprint("part", i), fmt.Sprint("org", i), partKey(i, w.grng.Intn(2))))
	case r < 6:
		body.Ops = append(body.Ops, typestest.Begin(w.beginOp(height)))
	case r < 7: // a deadline op, for a gtx that may be due, open, ended or unknown
		gid := fmt.Sprint("g", 1+w.grng.Intn(w.gtxN+2))
		body.Ops = append(body.Ops, types.Op{Sum: &types.Op_GtxDeadline{GtxDeadline: &types.GtxDeadline{Gid: gid}}})
		signer = w.grng.Intn(len(w.signers))
	default:
		op, ok := w.answerOp(t)
		if !ok {
			body.Ops = append(body.Ops, typestest.Begin(w.beginOp(height)))
			break
		}
		body.Ops = append(body.Ops, op)
		signer = w.grng.Intn(len(w.signers)) // any identity may carry an answer
	}
	return typestest.SignTx(t, body, w.actingFor(signer))
}

// actingFor is a key that acts for identity i as committed (a rotation may
// have moved it onto another signer's first key).
func (w *workload) actingFor(i int) *security.LocalSigner {
	id := types.Address(w.signers[i].PubKey())
	for _, ks := range w.keysOf {
		for j := len(ks) - 1; j >= 0; j-- {
			if got, ok := w.ref.resolve(types.Address(ks[j].PubKey())); ok && got == id {
				return ks[j]
			}
		}
	}
	return w.key(i)
}

func (w *workload) beginOp(height uint64) *types.BeginGtx {
	w.gtxN++
	var parts []string
	for range 1 + w.grng.Intn(3) {
		i := w.grng.Intn(3)
		if w.grng.Intn(10) == 0 {
			i = 3 // never registered
		}
		parts = append(parts, fmt.Sprint("part", i))
	}
	deadline := time.Unix(int64(height), 0).Add(time.Duration(1+w.grng.Intn(8)) * time.Second).UnixMilli()
	gid := fmt.Sprint("g", w.gtxN)
	if w.grng.Intn(2) == 0 {
		return typestest.Saga(gid, deadline, parts...)
	}
	return typestest.TCC(gid, deadline, parts...)
}

// answerOp answers a step of the committed pending work, or sends an old
// answer again; ok is false when there is nothing to answer.
func (w *workload) answerOp(t testing.TB) (types.Op, bool) {
	admin := types.Address(w.signers[0].PubKey())
	p, err := w.ref.Reader().GtxPending(admin, &types.GtxPendingRequest{Limit: types.GtxPageMax})
	if err != nil {
		t.Fatal(err)
	}
	if len(w.answers) > 0 && (len(p.Work) == 0 || w.grng.Intn(6) == 0) {
		return w.answers[w.grng.Intn(len(w.answers))], true
	}
	if len(p.Work) == 0 {
		return types.Op{}, false
	}
	work := p.Work[w.grng.Intn(len(p.Work))]
	var i int
	if _, err := fmt.Sscanf(work.Participant, "part%d", &i); err != nil {
		t.Fatal(err)
	}
	key := partKey(i, 0)
	if part, err := w.ref.Reader().Participant(work.Participant); err == nil && !bytes.Equal(part.PubKey, typestest.Key(key).PubKey()) {
		key = partKey(i, 1)
	}
	status, attempt := types.GtxStatus_GTX_STATUS_SUCCEEDED, work.Attempt
	switch r := w.grng.Intn(20); {
	case r < 4:
		status = types.GtxStatus_GTX_STATUS_FAILED
	case r < 5:
		key = partKey((i+1)%3, 0) // another participant's key
	case r < 6:
		attempt++
	}
	op := typestest.AnswerOver(t, typestest.Chain, work.Gid, work.Participant, work.Branch, work.Op, attempt, work.Payload, status, []byte{byte(w.grng.Intn(3))}, key)
	w.answers = append(w.answers, op)
	return op, true
}

// gtxAgree requires every engine to hold the same gtxs and the same
// pending work (which comes from each engine's in-memory open set).
func gtxAgree(t *testing.T, seed int64, h uint64, engines []*Engine, admin string) {
	t.Helper()
	enc := func(e *Engine) []byte {
		var b []byte
		l, err := e.Reader().GtxList(admin, &types.GtxListRequest{Limit: types.GtxPageMax})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range l.Gtxs {
			g, err := e.Reader().Gtx(admin, s.Gid, 0)
			if err != nil {
				t.Fatal(err)
			}
			gb, _ := g.Marshal()
			b = append(b, gb...)
		}
		p, err := e.Reader().GtxPending(admin, &types.GtxPendingRequest{Limit: types.GtxPageMax})
		if err != nil {
			t.Fatal(err)
		}
		pb, _ := p.Marshal()
		return append(b, pb...)
	}
	want := enc(engines[0])
	for i, e := range engines[1:] {
		if !bytes.Equal(enc(e), want) {
			t.Fatalf("seed %d height %d: engine %d holds other gtxs or pending work", seed, h, i+1)
		}
	}
}

// gtxOutcomes counts the reference engine's gtxs by final phase and the
// deadline rollbacks, which the workload must exercise.
func gtxOutcomes(t *testing.T, e *Engine, admin string) (committed, aborted, deadlines int) {
	l, err := e.Reader().GtxList(admin, &types.GtxListRequest{Limit: types.GtxPageMax})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range l.Gtxs {
		switch s.Phase {
		case types.GtxPhase_GTX_PHASE_COMMITTED:
			committed++
		case types.GtxPhase_GTX_PHASE_ABORTED:
			aborted++
		}
		if g, err := e.Reader().Gtx(admin, s.Gid, 0); err == nil && g.AbortReason == gtxAbortDeadline {
			deadlines++
		}
	}
	return committed, aborted, deadlines
}
