package types

import (
	"fmt"
	"net/url"
	"strings"
)

// checkGtxOp is the stateless check of the gtx ops: shapes and the limits
// of gtx.go. What needs state (participants, the gtx, signatures, RBAC)
// stays with the engine.
func checkGtxOp(op *Op, lim Limits) (Code, string) {
	switch o := op.Sum.(type) {
	case *Op_RegisterParticipant:
		return checkRegisterParticipant(o.RegisterParticipant)
	case *Op_RemoveParticipant:
		if o.RemoveParticipant == nil || !ValidGtxName(o.RemoveParticipant.Id, MaxParticipantIDBytes) {
			return CodeGtxBadShape, fmt.Sprintf("remove_participant needs a participant id of 1-%d characters of A-Z a-z 0-9 . _ : -", MaxParticipantIDBytes)
		}
	case *Op_BeginGtx:
		return checkBeginGtx(o.BeginGtx, lim)
	case *Op_GtxAnswer:
		return checkGtxAnswer(o.GtxAnswer)
	case *Op_GtxDeadline:
		if o.GtxDeadline == nil || !ValidGtxName(o.GtxDeadline.Gid, MaxGtxIDBytes) {
			return CodeGtxBadShape, fmt.Sprintf("gtx_deadline needs a gid of 1-%d characters of A-Z a-z 0-9 . _ : -", MaxGtxIDBytes)
		}
	}
	return CodeOK, ""
}

func checkRegisterParticipant(r *RegisterParticipant) (Code, string) {
	switch {
	case r == nil:
		return CodeGtxBadShape, "empty register_participant"
	case !ValidGtxName(r.Id, MaxParticipantIDBytes):
		return CodeGtxBadShape, fmt.Sprintf("participant id %q: want 1-%d characters of A-Z a-z 0-9 . _ : -", r.Id, MaxParticipantIDBytes)
	case len(r.PubKey) != PubKeySize:
		return CodeGtxBadShape, "participant pub_key: want a 32-byte ed25519 public key"
	case len(r.Endpoint) > MaxEndpointBytes:
		return CodeGtxLimit, fmt.Sprintf("endpoint is %d bytes, the limit is %d", len(r.Endpoint), MaxEndpointBytes)
	}
	u, err := url.Parse(r.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return CodeGtxBadShape, fmt.Sprintf("endpoint %q: want an http or https URL", r.Endpoint)
	}
	return CodeOK, ""
}

func checkBeginGtx(b *BeginGtx, lim Limits) (Code, string) {
	switch {
	case b == nil:
		return CodeGtxBadShape, "empty begin_gtx"
	case !ValidGtxName(b.Gid, MaxGtxIDBytes):
		return CodeGtxBadShape, fmt.Sprintf("gid %q: want 1-%d characters of A-Z a-z 0-9 . _ : -", b.Gid, MaxGtxIDBytes)
	case b.Mode != GtxMode_GTX_MODE_SAGA && b.Mode != GtxMode_GTX_MODE_TCC:
		return CodeGtxBadShape, "mode: want saga or tcc"
	case len(b.Branches) == 0:
		return CodeGtxBadShape, "a gtx needs at least one branch"
	case len(b.Branches) > MaxGtxBranches:
		return CodeGtxLimit, fmt.Sprintf("%d branches, the limit is %d", len(b.Branches), MaxGtxBranches)
	case b.DeadlineUnixMs <= 0:
		return CodeGtxBadShape, "deadline_unix_ms: want a block time in Unix milliseconds"
	case len(b.CommitWrites) > MaxGtxCommitWrites:
		return CodeGtxLimit, fmt.Sprintf("%d commit writes, the limit is %d", len(b.CommitWrites), MaxGtxCommitWrites)
	}
	for i := range b.Branches {
		if c, msg := checkGtxBranch(&b.Branches[i], b.Mode); c != CodeOK {
			return c, fmt.Sprintf("branch %d: %s", i, msg)
		}
	}
	for i, w := range b.CommitWrites {
		if c, msg := CheckKey(w.Key, lim.MaxKeyBytes); c != CodeOK {
			return c, fmt.Sprintf("commit write %d: %s", i, msg)
		}
		switch {
		case len(w.Value) > int(lim.MaxValueBytes):
			return CodeTooLarge, fmt.Sprintf("commit write %d: value is %d bytes, the limit is %d", i, len(w.Value), lim.MaxValueBytes)
		case w.Delete && len(w.Value) > 0:
			return CodeGtxBadShape, fmt.Sprintf("commit write %d: a delete carries no value", i)
		}
	}
	return CodeOK, ""
}

func checkGtxBranch(br *GtxBranch, mode GtxMode) (Code, string) {
	if !ValidGtxName(br.Participant, MaxParticipantIDBytes) {
		return CodeGtxBadShape, fmt.Sprintf("participant %q: want 1-%d characters of A-Z a-z 0-9 . _ : -", br.Participant, MaxParticipantIDBytes)
	}
	own, other := GtxOps(mode), GtxOps(GtxMode_GTX_MODE_SAGA)
	if mode == GtxMode_GTX_MODE_SAGA {
		other = GtxOps(GtxMode_GTX_MODE_TCC)
	}
	for _, op := range other {
		if len(br.Payload(op)) > 0 {
			return CodeGtxBadShape, fmt.Sprintf("%s has no %s payload", GtxModeName(mode), GtxOpName(op))
		}
	}
	for _, op := range own {
		if n := len(br.Payload(op)); n > MaxGtxPayloadBytes {
			return CodeGtxLimit, fmt.Sprintf("%s payload is %d bytes, the limit is %d", GtxOpName(op), n, MaxGtxPayloadBytes)
		}
	}
	return CodeOK, ""
}

func checkGtxAnswer(a *GtxAnswer) (Code, string) {
	switch {
	case a == nil:
		return CodeGtxBadShape, "empty gtx_answer"
	case !ValidGtxName(a.Gid, MaxGtxIDBytes):
		return CodeGtxBadShape, fmt.Sprintf("gid %q: want 1-%d characters of A-Z a-z 0-9 . _ : -", a.Gid, MaxGtxIDBytes)
	case a.Op < GtxOp_GTX_OP_ACTION || a.Op > GtxOp_GTX_OP_CANCEL:
		return CodeGtxBadShape, "op: want action, compensate, try, confirm or cancel"
	case a.Status != GtxStatus_GTX_STATUS_SUCCEEDED && a.Status != GtxStatus_GTX_STATUS_FAILED:
		return CodeGtxBadShape, "status: want succeeded or failed"
	case a.Attempt == 0:
		return CodeGtxBadShape, "attempt: want the step's attempt (from 1)"
	case len(a.Result) > MaxGtxResultBytes:
		return CodeGtxLimit, fmt.Sprintf("result is %d bytes, the limit is %d", len(a.Result), MaxGtxResultBytes)
	case len(a.PubKey) != PubKeySize || len(a.Signature) != SignatureSize:
		return CodeGtxWrongSigner, "an answer needs the participant's 32-byte ed25519 key and its 64-byte signature"
	}
	return CodeOK, ""
}

// GtxOps lists the operations of a mode, forward first.
func GtxOps(mode GtxMode) []GtxOp {
	if mode == GtxMode_GTX_MODE_TCC {
		return []GtxOp{GtxOp_GTX_OP_TRY, GtxOp_GTX_OP_CONFIRM, GtxOp_GTX_OP_CANCEL}
	}
	return []GtxOp{GtxOp_GTX_OP_ACTION, GtxOp_GTX_OP_COMPENSATE}
}

// GtxOpName is an op's short name: action, compensate, try, confirm, cancel.
func GtxOpName(op GtxOp) string { return lowerSuffix(op.String(), "GTX_OP_") }

// GtxModeName is a mode's short name: saga, tcc.
func GtxModeName(m GtxMode) string { return lowerSuffix(m.String(), "GTX_MODE_") }

// GtxPhaseName is a phase's short name: running, committing, ...
func GtxPhaseName(p GtxPhase) string { return lowerSuffix(p.String(), "GTX_PHASE_") }

// GtxStatusName is a status's short name: succeeded, failed.
func GtxStatusName(s GtxStatus) string { return lowerSuffix(s.String(), "GTX_STATUS_") }

// GtxStepStateName is a step state's short name: awaited, succeeded, ...
func GtxStepStateName(s GtxStepState) string { return lowerSuffix(s.String(), "GTX_STEP_") }

func lowerSuffix(s, prefix string) string { return strings.ToLower(strings.TrimPrefix(s, prefix)) }

// IsForward reports whether op is a forward operation (action, try): a
// FAILED answer to it rolls the gtx back. The others must eventually
// succeed.
func IsForward(op GtxOp) bool { return op == GtxOp_GTX_OP_ACTION || op == GtxOp_GTX_OP_TRY }
