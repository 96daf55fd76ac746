package engine

import "github.com/dstt/dstt/types"

// gtxMachine moves one gtx's state. It is pure: it reads and changes g and
// nothing else, so every validator makes the same moves.
//
// Saga: RUNNING runs the actions in branch order, one at a time. Every
// action SUCCEEDED: COMMITTED. An action FAILED at branch i: ABORTING,
// compensating branches i-1 down to 0, one at a time. The deadline with the
// action of branch i awaited: that step is ABANDONED and ABORTING
// compensates i down to 0 (a compensation whose action never ran is the
// participant's no-op). Every compensation SUCCEEDED: ABORTED.
//
// TCC: RUNNING awaits every try at once. Every try SUCCEEDED: COMMITTING
// awaits every confirm, then COMMITTED. A try FAILED, or the deadline: the
// tries still awaited are ABANDONED and ABORTING awaits the cancel of every
// branch whose try did not fail, then ABORTED.
//
// A compensate, confirm or cancel must eventually succeed: a FAILED answer
// is recorded and the step is awaited again with the next attempt. The
// deadline applies only while RUNNING.
type gtxMachine struct {
	g        *types.Gtx
	branches int
	height   uint64
	due      []stepRef // steps that came due in this move
	commit   bool      // the move decided commit: the commit writes apply now
}

// stepRef names a step: its branch and operation.
type stepRef struct {
	branch uint32
	op     types.GtxOp
}

// Abort reasons (types.Gtx.abort_reason): stable strings, hashed.
const (
	gtxAbortFailed   = "failed"
	gtxAbortDeadline = "deadline"
)

func (m *gtxMachine) saga() bool { return m.g.Mode == types.GtxMode_GTX_MODE_SAGA }

// addStep makes branch b's op due.
func (m *gtxMachine) addStep(b uint32, op types.GtxOp) {
	m.g.Steps = append(m.g.Steps, types.GtxStep{
		Branch: b, Op: op, State: types.GtxStepState_GTX_STEP_AWAITED, Attempt: 1, DueHeight: m.height,
	})
	m.due = append(m.due, stepRef{b, op})
}

// find returns the index of branch b's op in the journal, or -1 (a step
// comes due at most once).
func (m *gtxMachine) find(b uint32, op types.GtxOp) int {
	for i := range m.g.Steps {
		if s := &m.g.Steps[i]; s.Branch == b && s.Op == op {
			return i
		}
	}
	return -1
}

// begin starts a RUNNING gtx: the first action, or every try.
func (m *gtxMachine) begin() {
	m.g.Phase = types.GtxPhase_GTX_PHASE_RUNNING
	if m.saga() {
		m.addStep(0, types.GtxOp_GTX_OP_ACTION)
		return
	}
	for b := range m.branches {
		m.addStep(uint32(b), types.GtxOp_GTX_OP_TRY)
	}
}

// answer records an accepted answer to the awaited step i and moves on.
func (m *gtxMachine) answer(i int, a *types.GtxAnswer, signer, submitter string, txIndex uint32) {
	s := &m.g.Steps[i]
	s.Status, s.Result, s.Signer = a.Status, a.Result, signer
	s.AnswerHeight, s.AnswerTxIndex, s.Submitter = m.height, txIndex, submitter
	switch {
	case a.Status == types.GtxStatus_GTX_STATUS_SUCCEEDED:
		s.State = types.GtxStepState_GTX_STEP_SUCCEEDED
	case types.IsForward(a.Op):
		s.State = types.GtxStepState_GTX_STEP_FAILED
	default: // must succeed: await the next attempt
		s.Attempt++
		return
	}
	if m.saga() {
		m.advanceSaga(s)
	} else {
		m.advanceTCC()
	}
}

func (m *gtxMachine) advanceSaga(last *types.GtxStep) {
	switch {
	case m.g.Phase == types.GtxPhase_GTX_PHASE_RUNNING && last.State == types.GtxStepState_GTX_STEP_SUCCEEDED:
		if int(last.Branch)+1 < m.branches {
			m.addStep(last.Branch+1, types.GtxOp_GTX_OP_ACTION)
			return
		}
		m.g.Phase, m.commit = types.GtxPhase_GTX_PHASE_COMMITTED, true
	case m.g.Phase == types.GtxPhase_GTX_PHASE_RUNNING: // the action failed: nothing of it to undo
		m.abort(gtxAbortFailed, last.Branch)
		m.compensateFrom(int(last.Branch) - 1)
	case m.g.Phase == types.GtxPhase_GTX_PHASE_ABORTING:
		m.compensateFrom(int(last.Branch) - 1)
	}
}

// compensateFrom awaits branch b's compensation, or ends the saga ABORTED
// when b < 0.
func (m *gtxMachine) compensateFrom(b int) {
	if b < 0 {
		m.g.Phase = types.GtxPhase_GTX_PHASE_ABORTED
		return
	}
	m.addStep(uint32(b), types.GtxOp_GTX_OP_COMPENSATE)
}

func (m *gtxMachine) abort(reason string, branch uint32) {
	m.g.Phase, m.g.AbortReason, m.g.AbortBranch = types.GtxPhase_GTX_PHASE_ABORTING, reason, branch
}

// phaseSteps counts the steps of op, and those of them in state s.
func (m *gtxMachine) phaseSteps(op types.GtxOp, s types.GtxStepState) (all, in int) {
	for i := range m.g.Steps {
		if m.g.Steps[i].Op == op {
			all++
			if m.g.Steps[i].State == s {
				in++
			}
		}
	}
	return all, in
}

func (m *gtxMachine) advanceTCC() {
	const succeeded = types.GtxStepState_GTX_STEP_SUCCEEDED
	switch m.g.Phase {
	case types.GtxPhase_GTX_PHASE_RUNNING:
		for i := range m.g.Steps {
			if s := &m.g.Steps[i]; s.State == types.GtxStepState_GTX_STEP_FAILED {
				m.abort(gtxAbortFailed, s.Branch)
				m.cancelAll()
				return
			}
		}
		if _, ok := m.phaseSteps(types.GtxOp_GTX_OP_TRY, succeeded); ok == m.branches {
			m.g.Phase, m.commit = types.GtxPhase_GTX_PHASE_COMMITTING, true
			for b := range m.branches {
				m.addStep(uint32(b), types.GtxOp_GTX_OP_CONFIRM)
			}
		}
	case types.GtxPhase_GTX_PHASE_COMMITTING:
		if all, ok := m.phaseSteps(types.GtxOp_GTX_OP_CONFIRM, succeeded); ok == all {
			m.g.Phase = types.GtxPhase_GTX_PHASE_COMMITTED
		}
	case types.GtxPhase_GTX_PHASE_ABORTING:
		if all, ok := m.phaseSteps(types.GtxOp_GTX_OP_CANCEL, succeeded); ok == all {
			m.g.Phase = types.GtxPhase_GTX_PHASE_ABORTED
		}
	}
}

// cancelAll abandons the tries still awaited and awaits the cancel of
// every branch whose try did not fail (ABORTED at once when there is none).
func (m *gtxMachine) cancelAll() {
	var cancel []uint32
	for i := range m.g.Steps {
		s := &m.g.Steps[i]
		if s.State == types.GtxStepState_GTX_STEP_AWAITED {
			s.State = types.GtxStepState_GTX_STEP_ABANDONED
		}
		if s.State != types.GtxStepState_GTX_STEP_FAILED {
			cancel = append(cancel, s.Branch)
		}
	}
	if len(cancel) == 0 {
		m.g.Phase = types.GtxPhase_GTX_PHASE_ABORTED
		return
	}
	for _, b := range cancel {
		m.addStep(b, types.GtxOp_GTX_OP_CANCEL)
	}
}

// deadline rolls a RUNNING gtx back: block time has reached its deadline.
func (m *gtxMachine) deadline() {
	if m.g.Phase != types.GtxPhase_GTX_PHASE_RUNNING {
		return
	}
	if !m.saga() {
		m.abort(gtxAbortDeadline, 0)
		m.cancelAll()
		return
	}
	last := &m.g.Steps[len(m.g.Steps)-1] // the awaited action
	last.State = types.GtxStepState_GTX_STEP_ABANDONED
	m.abort(gtxAbortDeadline, last.Branch)
	m.compensateFrom(int(last.Branch))
}
