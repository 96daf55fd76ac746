package engine

import (
	"fmt"
	"maps"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/types"
)

// Every gtx transition is an audit entry of kind gtx_step in the consensus
// chain, after the entry of the tx that caused it (or, for a deadline,
// after the block's evidence): codes and structured resources only.
//
//	action     gtx_begin | gtx_answer | gtx_deadline
//	actor      the tx's signer (an executor for an answer); "" for a deadline
//	resources  gtx:GID, phase:PHASE (after the move), then for an answer
//	           step:BRANCH/OP, attempt:N, status:STATUS, signer:ADDRESS (the
//	           participant key's address), then due:BRANCH/OP for every step
//	           the move made due
const (
	gtxActBegin    = "gtx_begin"
	gtxActAnswer   = "gtx_answer"
	gtxActDeadline = "gtx_deadline"
)

// gtxEvent is one transition, kept in the staged block until stageAudit.
type gtxEvent struct {
	txIndex uint32
	block   bool // the block's deadline sweep, not a tx
	action  string
	actor   string
	gid     string
	phase   types.GtxPhase
	step    *stepRef
	attempt uint32
	status  types.GtxStatus
	signer  string
	due     []stepRef
}

// gtxEvent records ev for the audit chain, undone with the tx.
func (e *Engine) gtxEvent(st *staged, u *undoLog, ev gtxEvent) {
	n := len(st.gtxEvents)
	st.gtxEvents = append(st.gtxEvents, ev)
	if u != nil {
		u.add(func() { st.gtxEvents = st.gtxEvents[:n] })
	}
}

func (s stepRef) String() string { return fmt.Sprintf("%d/%s", s.branch, types.GtxOpName(s.op)) }

// entry is ev's audit entry in block b.
func (ev *gtxEvent) entry(b *Block) audit.Entry {
	res := []string{"gtx:" + ev.gid, "phase:" + types.GtxPhaseName(ev.phase)}
	if ev.step != nil {
		res = append(res, "step:"+ev.step.String(), fmt.Sprintf("attempt:%d", ev.attempt),
			"status:"+types.GtxStatusName(ev.status), "signer:"+ev.signer)
	}
	for _, s := range ev.due {
		res = append(res, "due:"+s.String())
	}
	return audit.Entry{
		Height: b.Height, TxIndex: ev.txIndex, Time: b.Time, Kind: audit.KindGtxStep,
		Actor: ev.actor, Action: ev.action, Resources: res, CodeName: types.CodeOK.Name(),
	}
}

// gtxAuditEntries appends to add, in order, the entries of the block's gtx
// events with block set (before) or of tx i.
type gtxAuditCursor struct {
	evs []gtxEvent
	n   int
}

func (c *gtxAuditCursor) blockEntries(b *Block, add func(audit.Entry)) {
	for ; c.n < len(c.evs) && c.evs[c.n].block; c.n++ {
		add(c.evs[c.n].entry(b))
	}
}

func (c *gtxAuditCursor) txEntries(b *Block, i int, add func(audit.Entry)) {
	for ; c.n < len(c.evs) && !c.evs[c.n].block && c.evs[c.n].txIndex == uint32(i); c.n++ {
		add(c.evs[c.n].entry(b))
	}
}

// Rules of the gtx refusals (types.Reason.rule): never reworded or reused.
const (
	ruleGtxParticipantOrg   = "gtx_participant_org"    // op; subject: the participant id (another org's)
	ruleGtxNoParticipant    = "gtx_no_participant"     // op; subject: the participant id
	ruleGtxParticipantInUse = "gtx_participant_in_use" // op; subject: the participant id
	ruleGtxExists           = "gtx_exists"             // op; subject: the gid
	ruleGtxDeadlinePassed   = "gtx_deadline_passed"    // op; subject: the gid
	ruleGtxDeadlineFar      = "gtx_deadline_far"       // op; subject: the gid
	ruleGtxTooManyOpen      = "gtx_too_many_open"      // op; subject: the gid
	ruleGtxLacksBegin       = "gtx_lacks_begin"        // op; subject: participant/ID
	ruleGtxNotFound         = "gtx_not_found"          // op; subject: the gid
	ruleGtxNoStep           = "gtx_no_step"            // op; subject: the gid
	ruleGtxWrongKey         = "gtx_wrong_key"          // op; subject: the gid
	ruleGtxBadSignature     = "gtx_bad_signature"      // op; subject: the gid
	ruleGtxNotAwaited       = "gtx_not_awaited"        // op; subject: the gid
	ruleGtxDuplicate        = "gtx_duplicate"          // op; subject: the gid
	ruleGtxAttempts         = "gtx_attempts"           // op; subject: the gid
	ruleGtxFinal            = "gtx_final"              // op; subject: the gid
)

func init() {
	maps.Copy(ruleText, map[string]func(r *types.Reason) string{
		ruleGtxParticipantOrg:   func(r *types.Reason) string { return fmt.Sprintf("participant %q belongs to another org", r.Subject) },
		ruleGtxNoParticipant:    func(r *types.Reason) string { return fmt.Sprintf("no participant %q is registered", r.Subject) },
		ruleGtxParticipantInUse: func(r *types.Reason) string { return fmt.Sprintf("participant %q is in an open gtx", r.Subject) },
		ruleGtxExists:           func(r *types.Reason) string { return fmt.Sprintf("gtx %q exists", r.Subject) },
		ruleGtxDeadlinePassed: func(r *types.Reason) string {
			return fmt.Sprintf("gtx %q: the deadline is not after the block time", r.Subject)
		},
		ruleGtxDeadlineFar: func(r *types.Reason) string {
			return fmt.Sprintf("gtx %q: the deadline is too far after the block time", r.Subject)
		},
		ruleGtxTooManyOpen: func(r *types.Reason) string { return fmt.Sprintf("gtx %q: too many gtxs are open", r.Subject) },
		ruleGtxLacksBegin:  func(r *types.Reason) string { return fmt.Sprintf("the signer lacks gtx:begin on %q", r.Subject) },
		ruleGtxNotFound:    func(r *types.Reason) string { return fmt.Sprintf("no gtx %q", r.Subject) },
		ruleGtxNoStep:      func(r *types.Reason) string { return fmt.Sprintf("gtx %q has no such branch or operation", r.Subject) },
		ruleGtxWrongKey: func(r *types.Reason) string {
			return fmt.Sprintf("gtx %q: the answer's key is not the branch participant's", r.Subject)
		},
		ruleGtxBadSignature: func(r *types.Reason) string {
			return fmt.Sprintf("gtx %q: the answer's signature does not verify", r.Subject)
		},
		ruleGtxNotAwaited: func(r *types.Reason) string {
			return fmt.Sprintf("gtx %q does not await this step and attempt", r.Subject)
		},
		ruleGtxDuplicate: func(r *types.Reason) string { return fmt.Sprintf("gtx %q already has this answer", r.Subject) },
		ruleGtxAttempts:  func(r *types.Reason) string { return fmt.Sprintf("gtx %q: the step is out of attempts", r.Subject) },
		ruleGtxFinal:     func(r *types.Reason) string { return fmt.Sprintf("gtx %q has ended", r.Subject) },
	})
}
