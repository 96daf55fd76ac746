package engine

import (
	"bytes"
	"slices"

	"github.com/dstt/dstt/rbac"
	"github.com/dstt/dstt/security/verify"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
)

// The gtx ops, one method each. Every method checks first, against the
// block's state (st non-nil) or the committed state (st nil: CheckTx, which
// only checks); a refusal fails d with a stable code and returns nil, an
// error is a fault. Then, with st non-nil, it stages its writes (undone
// through u when a later op of the tx fails).

// isGtxOp reports whether op is a gtx op.
func isGtxOp(op *types.Op) bool {
	switch op.Sum.(type) {
	case *types.Op_RegisterParticipant, *types.Op_RemoveParticipant, *types.Op_BeginGtx, *types.Op_GtxAnswer, *types.Op_GtxDeadline:
		return true
	}
	return false
}

// applyGtxOp runs gtx op i of d.
func (e *Engine) applyGtxOp(st *staged, d *decodedTx, i int, u *undoLog) error {
	switch o := d.body.Ops[i].Sum.(type) {
	case *types.Op_RegisterParticipant:
		return e.registerParticipant(st, d, i, o.RegisterParticipant)
	case *types.Op_RemoveParticipant:
		return e.removeParticipant(st, d, i, o.RemoveParticipant)
	case *types.Op_BeginGtx:
		return e.beginGtx(st, d, i, o.BeginGtx, u)
	case *types.Op_GtxAnswer:
		return e.answerGtx(st, d, i, o.GtxAnswer, u)
	case *types.Op_GtxDeadline:
		return e.applyGtxDeadline(st, d, i, o.GtxDeadline.Gid, u)
	}
	return nil
}

// applyGtxDeadline rolls gtx gid back if it is RUNNING and the block's time
// has reached its deadline; an open gtx that is not due is left as it is.
func (e *Engine) applyGtxDeadline(st *staged, d *decodedTx, i int, gid string, u *undoLog) error {
	g, def, ok, err := e.loadGtx(st, gid)
	if err != nil {
		return err
	}
	switch {
	case !ok:
		d.failAt(types.CodeGtxNotFound, opReason(ruleGtxNotFound, i, gid), "op %d: no gtx %q", i, gid)
		return nil
	case g.Phase.IsFinal():
		d.failAt(types.CodeGtxNotAwaited, opReason(ruleGtxFinal, i, gid), "op %d: gtx %q is %s", i, gid, types.GtxPhaseName(g.Phase))
		return nil
	case st == nil || g.Phase != types.GtxPhase_GTX_PHASE_RUNNING || g.DeadlineUnixMs > st.time.UnixMilli():
		return nil
	}
	m := gtxMachine{g: g, branches: len(def.Branches), height: st.height}
	m.deadline()
	if err := e.saveGtx(st, g, storage.Version{Height: st.height, Index: d.index}, u); err != nil {
		return err
	}
	e.gtxEvent(st, u, gtxEvent{txIndex: d.index, action: gtxActDeadline, actor: d.signer, gid: g.Gid, phase: g.Phase, due: m.due})
	return nil
}

// checkGtxOps runs the checks of d's gtx ops against committed state
// (CheckTx): a forged or stale answer never enters the mempool.
func (e *Engine) checkGtxOps(d *decodedTx) error {
	for i := range d.body.Ops {
		if !isGtxOp(&d.body.Ops[i]) {
			continue
		}
		if err := e.applyGtxOp(nil, d, i, nil); err != nil || d.code != types.CodeOK {
			return err
		}
	}
	return nil
}

func (e *Engine) registerParticipant(st *staged, d *decodedTx, i int, op *types.RegisterParticipant) error {
	old, ok, err := e.readParticipant(st, op.Id)
	if err != nil {
		return err
	}
	if ok && old.Org != op.Org {
		d.failAt(types.CodeGtxExists, opReason(ruleGtxParticipantOrg, i, op.Id), "op %d: participant %q belongs to org %q", i, op.Id, old.Org)
		return nil
	}
	if !e.open && !e.policyAt(st).IsAdmin(d.signer, op.Org) {
		d.failAt(types.CodeUnauthorized, opReason(ruleLacksAdmin, i, op.Org), "op %d: %s lacks admin in domain %q", i, d.signer, op.Org)
		return nil
	}
	if st == nil {
		return nil
	}
	p := types.Participant{Id: op.Id, Org: op.Org, PubKey: op.PubKey, Endpoint: op.Endpoint, Height: st.height}
	return e.putProto(st, participantKey(op.Id), &p, storage.Version{Height: st.height, Index: d.index})
}

func (e *Engine) removeParticipant(st *staged, d *decodedTx, i int, op *types.RemoveParticipant) error {
	p, ok, err := e.readParticipant(st, op.Id)
	if err != nil {
		return err
	}
	if !ok {
		d.failAt(types.CodeGtxUnknownParticipant, opReason(ruleGtxNoParticipant, i, op.Id), "op %d: no participant %q", i, op.Id)
		return nil
	}
	if !e.open && !e.policyAt(st).IsAdmin(d.signer, p.Org) {
		d.failAt(types.CodeUnauthorized, opReason(ruleLacksAdmin, i, p.Org), "op %d: %s lacks admin in domain %q", i, d.signer, p.Org)
		return nil
	}
	inUse, err := e.participantInUse(st, op.Id)
	if err != nil {
		return err
	}
	if inUse != "" {
		d.failAt(types.CodeInvalidOp, opReason(ruleGtxParticipantInUse, i, op.Id), "op %d: participant %q is in open gtx %q", i, op.Id, inUse)
		return nil
	}
	if st == nil {
		return nil
	}
	st.put(storage.Entry{Key: participantKey(op.Id), Deleted: true, Version: storage.Version{Height: st.height, Index: d.index}})
	return nil
}

// participantInUse returns the first open gtx (by gid) with a branch on
// participant id, or "".
func (e *Engine) participantInUse(st *staged, id string) (string, error) {
	open := e.openGtxIDs()
	if st != nil {
		for gid, c := range st.gtxOpen {
			if _, had := e.gtxOpen[gid]; !had && !c.closed {
				open = append(open, gid)
			}
		}
	}
	slices.Sort(open)
	for _, gid := range open {
		if st != nil && st.gtxOpen[gid].closed {
			continue
		}
		var def types.BeginGtx
		if _, err := e.readProto(st, gtxDefKey(gid), &def); err != nil {
			return "", err
		}
		for _, b := range def.Branches {
			if b.Participant == id {
				return gid, nil
			}
		}
	}
	return "", nil
}

func (e *Engine) beginGtx(st *staged, d *decodedTx, i int, op *types.BeginGtx, u *undoLog) error {
	if ok, err := e.checkBegin(st, d, i, op); err != nil || !ok {
		return err
	}
	if st == nil {
		return nil
	}
	ver := storage.Version{Height: st.height, Index: d.index}
	if err := e.putProto(st, gtxDefKey(op.Gid), op, ver); err != nil {
		return err
	}
	g := &types.Gtx{Gid: op.Gid, Mode: op.Mode, DeadlineUnixMs: op.DeadlineUnixMs, Creator: d.signer, BeginHeight: st.height}
	m := gtxMachine{g: g, branches: len(op.Branches), height: st.height}
	m.begin()
	if err := e.saveGtx(st, g, ver, u); err != nil {
		return err
	}
	e.gtxEvent(st, u, gtxEvent{txIndex: d.index, action: gtxActBegin, actor: d.signer, gid: g.Gid, phase: g.Phase, due: m.due})
	return nil
}

// checkBegin runs BeginGtx's checks; ok is false when it failed d.
func (e *Engine) checkBegin(st *staged, d *decodedTx, i int, op *types.BeginGtx) (bool, error) {
	ent, exists, err := e.readAt(st, gtxKey(op.Gid))
	if err != nil {
		return false, err
	}
	if exists && !ent.Deleted {
		d.failAt(types.CodeGtxExists, opReason(ruleGtxExists, i, op.Gid), "op %d: gtx %q exists", i, op.Gid)
		return false, nil
	}
	if st != nil { // the deadline is judged against the block's time
		now := st.time.UnixMilli()
		switch {
		case op.DeadlineUnixMs <= now:
			d.failAt(types.CodeGtxBadShape, opReason(ruleGtxDeadlinePassed, i, op.Gid), "op %d: deadline %d is not after the block time %d", i, op.DeadlineUnixMs, now)
			return false, nil
		case op.DeadlineUnixMs-now > types.MaxGtxDeadlineMs:
			d.failAt(types.CodeGtxLimit, opReason(ruleGtxDeadlineFar, i, op.Gid), "op %d: deadline is more than %d ms after the block time", i, int64(types.MaxGtxDeadlineMs))
			return false, nil
		}
	}
	if e.openGtxCount(st) >= types.MaxOpenGtxs {
		d.failAt(types.CodeGtxLimit, opReason(ruleGtxTooManyOpen, i, op.Gid), "op %d: %d gtxs are open, the limit", i, types.MaxOpenGtxs)
		return false, nil
	}
	pol := e.policyAt(st)
	for _, b := range op.Branches {
		p, ok, err := e.readParticipant(st, b.Participant)
		if err != nil {
			return false, err
		}
		if !ok {
			d.failAt(types.CodeGtxUnknownParticipant, opReason(ruleGtxNoParticipant, i, b.Participant), "op %d: no participant %q", i, b.Participant)
			return false, nil
		}
		obj := types.GtxParticipantObject(p.Id)
		if !e.open && !pol.Allowed(d.signer, p.Org, obj, rbac.ActGtxBegin) {
			d.failAt(types.CodeUnauthorized, opReason(ruleGtxLacksBegin, i, obj), "op %d: %s lacks %s on %q in domain %q", i, d.signer, rbac.ActGtxBegin, obj, p.Org)
			return false, nil
		}
	}
	for _, w := range op.CommitWrites {
		if dom := rbac.DomainOf(w.Key); !e.open && !pol.Allowed(d.signer, dom, w.Key, rbac.ActWrite) {
			d.failAt(types.CodeUnauthorized, opReason(ruleLacksWrite, i, w.Key), "op %d: %s lacks write on key %q (domain %q)", i, d.signer, w.Key, dom)
			return false, nil
		}
	}
	return true, nil
}

func (e *Engine) answerGtx(st *staged, d *decodedTx, i int, a *types.GtxAnswer, u *undoLog) error {
	g, def, ok, err := e.loadGtx(st, a.Gid)
	if err != nil {
		return err
	}
	if !ok {
		d.failAt(types.CodeGtxNotFound, opReason(ruleGtxNotFound, i, a.Gid), "op %d: no gtx %q", i, a.Gid)
		return nil
	}
	step, ok, err := e.checkAnswer(st, d, i, g, def, a)
	if err != nil || !ok || st == nil {
		return err
	}
	m := gtxMachine{g: g, branches: len(def.Branches), height: st.height}
	signer := types.Address(a.PubKey)
	m.answer(step, a, signer, d.signer, d.index)
	if err := e.saveGtx(st, g, storage.Version{Height: st.height, Index: d.index}, u); err != nil {
		return err
	}
	if m.commit {
		for _, w := range def.CommitWrites {
			d.gtxWrites = append(d.gtxWrites, pendingWrite{key: w.Key, value: w.Value, deleted: w.Delete})
		}
	}
	e.gtxEvent(st, u, gtxEvent{
		txIndex: d.index, action: gtxActAnswer, actor: d.signer, gid: g.Gid, phase: g.Phase,
		step: &stepRef{a.Branch, a.Op}, attempt: a.Attempt, status: a.Status, signer: signer, due: m.due,
	})
	return nil
}

// checkAnswer runs a GtxAnswer's checks against g, in this order: the step
// exists in the gtx's mode, the branch's participant is registered, the
// answer is signed by its registered key over GtxAnswerSignBytes (the
// stored payload's hash), then the step awaits this attempt. It returns
// the step's index in the journal; ok is false when it failed d.
func (e *Engine) checkAnswer(st *staged, d *decodedTx, i int, g *types.Gtx, def *types.BeginGtx, a *types.GtxAnswer) (int, bool, error) {
	refuse := func(c types.Code, rule, format string, args ...any) (int, bool, error) {
		d.failAt(c, opReason(rule, i, a.Gid), "op %d: "+format, append([]any{i}, args...)...)
		return 0, false, nil
	}
	if int(a.Branch) >= len(def.Branches) || !opOfMode(a.Op, g.Mode) {
		return refuse(types.CodeGtxNotAwaited, ruleGtxNoStep, "gtx %q has no step %d/%s", a.Gid, a.Branch, types.GtxOpName(a.Op))
	}
	br := &def.Branches[a.Branch]
	p, ok, err := e.readParticipant(st, br.Participant)
	if err != nil {
		return 0, false, err
	}
	if !ok {
		return refuse(types.CodeGtxUnknownParticipant, ruleGtxNoParticipant, "participant %q is not registered", br.Participant)
	}
	if !bytes.Equal(p.PubKey, a.PubKey) {
		return refuse(types.CodeGtxWrongSigner, ruleGtxWrongKey, "the answer is signed by %s, not participant %q's key", types.Address(a.PubKey), p.Id)
	}
	msg := types.GtxAnswerSignBytes(e.chainID, a.Gid, p.Id, a.Branch, a.Op, a.Attempt, types.GtxPayloadHash(br.Payload(a.Op)), a.Status, a.Result)
	if !e.verifier.VerifyBatch([]verify.Item{{PubKey: a.PubKey, Msg: msg, Sig: a.Signature}})[0] {
		return refuse(types.CodeGtxWrongSigner, ruleGtxBadSignature, "the answer's signature does not verify (types.GtxAnswerSignBytes)")
	}
	m := gtxMachine{g: g}
	j := m.find(a.Branch, a.Op)
	if j < 0 {
		return refuse(types.CodeGtxNotAwaited, ruleGtxNotAwaited, "step %d/%s is not due", a.Branch, types.GtxOpName(a.Op))
	}
	s := &g.Steps[j]
	if isLastAnswer(s, a) {
		return refuse(types.CodeGtxDuplicateAnswer, ruleGtxDuplicate, "step %d/%s already has this answer", a.Branch, types.GtxOpName(a.Op))
	}
	if s.State != types.GtxStepState_GTX_STEP_AWAITED || s.Attempt != a.Attempt {
		return refuse(types.CodeGtxNotAwaited, ruleGtxNotAwaited, "step %d/%s is %s at attempt %d", a.Branch, types.GtxOpName(a.Op), types.GtxStepStateName(s.State), s.Attempt)
	}
	if a.Status == types.GtxStatus_GTX_STATUS_FAILED && !types.IsForward(a.Op) && s.Attempt >= types.MaxGtxAttempts {
		return refuse(types.CodeGtxLimit, ruleGtxAttempts, "step %d/%s has had %d attempts", a.Branch, types.GtxOpName(a.Op), s.Attempt)
	}
	return j, true, nil
}

// isLastAnswer reports whether a is the answer step s last accepted (same
// attempt, status, result and key): a duplicate, harmless.
func isLastAnswer(s *types.GtxStep, a *types.GtxAnswer) bool {
	if s.Status == types.GtxStatus_GTX_STATUS_UNSPECIFIED {
		return false
	}
	attempt := s.Attempt
	if s.State == types.GtxStepState_GTX_STEP_AWAITED { // a FAILED answer moved it to the next attempt
		attempt--
	}
	return a.Attempt == attempt && a.Status == s.Status && bytes.Equal(a.Result, s.Result) && types.Address(a.PubKey) == s.Signer
}

// opOfMode reports whether op belongs to mode.
func opOfMode(op types.GtxOp, mode types.GtxMode) bool {
	for _, o := range types.GtxOps(mode) {
		if o == op {
			return true
		}
	}
	return false
}
