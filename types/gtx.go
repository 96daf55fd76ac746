package types

import (
	"crypto/sha256"
	"encoding/binary"
	"regexp"
)

// Global transactions (gtx): the wire contract shared by the engine, the
// executors, the participant SDK and clients. The messages are in
// gtx.pb.go (proto/dstt/v1/gtx.proto).

// Limits of the gtx ops. They bound what a gtx makes every validator hold.
const (
	MaxGtxIDBytes         = 64               // gid
	MaxParticipantIDBytes = 64               // participant id
	MaxEndpointBytes      = 512              // participant endpoint URL
	MaxGtxBranches        = 16               // branches of one gtx
	MaxGtxPayloadBytes    = 16 << 10         // one operation's payload
	MaxGtxResultBytes     = 4 << 10          // one answer's result
	MaxGtxCommitWrites    = 16               // commit_writes of one gtx
	MaxGtxDeadlineMs      = 7 * 86400 * 1000 // a deadline at most this far after the block time that begins the gtx
	// MaxGtxAttempts bounds the attempts of one must-succeed step (FAILED
	// answers to a compensate, confirm or cancel): past it, the step
	// refuses answers with CodeGtxLimit and stays awaited.
	MaxGtxAttempts = 1000
	// MaxOpenGtxs bounds the gtxs not yet in a final phase, chain-wide.
	MaxOpenGtxs = 10000
	// GtxPageDefault and GtxPageMax bound list and pending pages.
	GtxPageDefault = 100
	GtxPageMax     = 1000
)

// Query paths of gtx state (see paths.go for the others).
const (
	QueryGtx            = "/gtx/get"         // data: gid; height: 0 = latest; answer: encoded Gtx
	QueryGtxList        = "/gtx/list"        // data: encoded GtxListRequest; answer: encoded GtxList
	QueryGtxPending     = "/gtx/pending"     // data: encoded GtxPendingRequest; answer: encoded GtxPending
	QueryGtxParticipant = "/gtx/participant" // data: participant id; answer: encoded Participant
)

// GtxReadKey is the key whose read permission lets a reader read gtx gid
// (its state, and its steps in the list and pending work): grant an
// executor read on "gtx/*". A gtx's creator may always read it.
func GtxReadKey(gid string) string { return "gtx/" + gid }

// GtxBeginAction is the RBAC action a signer needs, on the object
// GtxParticipantObject(id) in the participant's org domain, to begin a gtx
// with a branch on that participant.
const GtxBeginAction = "gtx:begin"

// GtxParticipantObject is the RBAC object naming a participant.
func GtxParticipantObject(id string) string { return "participant/" + id }

var gtxNamePat = regexp.MustCompile(`^[A-Za-z0-9._:-]+$`)

// ValidGtxName reports whether s may be a gid or a participant id: 1 to
// max bytes of A-Z a-z 0-9 . _ : -.
func ValidGtxName(s string, max int) bool {
	return len(s) > 0 && len(s) <= max && gtxNamePat.MatchString(s)
}

const gtxAnswerDomain = "dstt/gtx-answer/v1\x00"

// GtxAnswerSignBytes is what a participant signs to answer one step:
// SHA-256 over a domain tag, then the length-prefixed (uvarint) chain id,
// gid and participant id, the branch, op and attempt (uvarints), the
// length-prefixed SHA-256 of the step's payload (GtxPayloadHash), the
// status (uvarint) and the length-prefixed result. The answer so names
// the chain, the gtx, the branch, the operation and its attempt, and the
// exact payload the participant ran: it cannot be replayed onto another
// chain, gtx, branch, operation or attempt, nor count for another payload.
func GtxAnswerSignBytes(chainID, gid, participant string, branch uint32, op GtxOp, attempt uint32,
	payloadHash []byte, status GtxStatus, result []byte) []byte {
	h := sha256.New()
	h.Write([]byte(gtxAnswerDomain))
	var n [binary.MaxVarintLen64]byte
	lp := func(b []byte) {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))])
		h.Write(b)
	}
	uv := func(x uint64) { h.Write(n[:binary.PutUvarint(n[:], x)]) }
	lp([]byte(chainID))
	lp([]byte(gid))
	lp([]byte(participant))
	uv(uint64(branch))
	uv(uint64(op))
	uv(uint64(attempt))
	lp(payloadHash)
	uv(uint64(status))
	lp(result)
	return h.Sum(nil)
}

// GtxPayloadHash is the SHA-256 of an operation's payload, as
// GtxAnswerSignBytes takes it.
func GtxPayloadHash(payload []byte) []byte {
	sum := sha256.Sum256(payload)
	return sum[:]
}

// Payload returns the payload of op in branch b (nil for an op the mode
// does not have).
func (b *GtxBranch) Payload(op GtxOp) []byte {
	switch op {
	case GtxOp_GTX_OP_ACTION:
		return b.Action
	case GtxOp_GTX_OP_COMPENSATE:
		return b.Compensate
	case GtxOp_GTX_OP_TRY:
		return b.Try
	case GtxOp_GTX_OP_CONFIRM:
		return b.Confirm
	case GtxOp_GTX_OP_CANCEL:
		return b.Cancel
	}
	return nil
}

// IsFinal reports whether p is a final phase.
func (p GtxPhase) IsFinal() bool {
	return p == GtxPhase_GTX_PHASE_COMMITTED || p == GtxPhase_GTX_PHASE_ABORTED
}
