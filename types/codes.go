package types

import "fmt"

// Code is the stable result code of a transaction. It is what CometBFT
// reports as ResponseCheckTx.code and ExecTxResult.code. Numbers are never
// reused; a retired code keeps its number and message.
type Code uint32

// Result codes. 0 is success; every other code means the transaction changed
// nothing.
const (
	CodeOK           Code = 0
	CodeEncoding     Code = 1  // the tx or its body does not decode, or is not canonical
	CodeTooLarge     Code = 2  // tx bytes, op count, key or value over a limit
	CodeWrongChain   Code = 3  // body.chain_id is not this chain's id
	CodeNoSignature  Code = 4  // the tx carries no signature
	CodeBadSignature Code = 5  // a signature or public key does not verify
	CodeExpired      Code = 6  // valid_until_height is below the block height
	CodeTooFarAhead  Code = 7  // valid_until_height is beyond the replay window
	CodeReplay       Code = 8  // a tx with the same signed body was already committed
	CodeConflict     Code = 9  // a check op found a different version
	CodeInvalidOp    Code = 10 // an op is empty, unknown, or names an invalid key
	CodeUnauthorized Code = 11 // the signer lacks a permission (RBAC)
	CodeInternal     Code = 12 // the node failed while handling the tx; nothing changed
	CodeNotFound     Code = 13 // query: no such key, tx or path
	CodeBadQuery     Code = 14 // query: malformed request or height out of range
	CodeKeyRetired   Code = 15 // a signature is by a key its identity has rotated away from
	// Global transactions (gtx). A refused gtx op changes nothing: no
	// answer of a refused tx moves a gtx.
	CodeGtxUnknownParticipant Code = 16 // a gtx op names a participant that is not registered
	CodeGtxWrongSigner        Code = 17 // a branch answer is not validly signed by the branch's participant key
	CodeGtxDuplicateAnswer    Code = 18 // this answer was already accepted: nothing to do (harmless)
	CodeGtxNotAwaited         Code = 19 // the answer is for a step the gtx does not await (wrong op, attempt or branch, or the gtx moved on)
	CodeGtxNotFound           Code = 20 // no gtx with this gid
	CodeGtxExists             Code = 21 // a gtx with this gid exists, or the participant belongs to another org
	CodeGtxBadShape           Code = 22 // a gtx op is malformed (mode, branches, payloads, names, deadline)
	CodeGtxLimit              Code = 23 // a gtx op is over a gtx limit (sizes, counts, open gtxs, attempts)
	CodePruned                Code = 24 // query: the height asked for is below the retained history
	// Audit export anchors (AuditAnchor).
	CodeAuditAnchor Code = 25 // the anchored entry is not a committed, readable entry of the audit chain with that hash, or is below the recorded anchor
	CodeAuditPrune  Code = 26 // pruning the audit chain was asked above its anchor
)

var codeText = [...]string{
	CodeOK:           "ok",
	CodeEncoding:     "malformed transaction",
	CodeTooLarge:     "transaction over a size limit",
	CodeWrongChain:   "wrong chain id",
	CodeNoSignature:  "transaction is not signed",
	CodeBadSignature: "invalid signature",
	CodeExpired:      "transaction expired",
	CodeTooFarAhead:  "valid_until_height too far ahead",
	CodeReplay:       "transaction already committed (replay)",
	CodeConflict:     "conflict: a checked key changed",
	CodeInvalidOp:    "invalid operation",
	CodeUnauthorized: "unauthorized",
	CodeInternal:     "internal error",
	CodeNotFound:     "not found",
	CodeBadQuery:     "bad query",
	CodeKeyRetired:   "signing key retired",

	CodeGtxUnknownParticipant: "gtx: unknown participant",
	CodeGtxWrongSigner:        "gtx: answer not signed by the branch's participant",
	CodeGtxDuplicateAnswer:    "gtx: answer already accepted",
	CodeGtxNotAwaited:         "gtx: step not awaited",
	CodeGtxNotFound:           "gtx: not found",
	CodeGtxExists:             "gtx: already exists",
	CodeGtxBadShape:           "gtx: malformed op",
	CodeGtxLimit:              "gtx: over a limit",
	CodePruned:                "height is below the retained history (pruned)",

	CodeAuditAnchor: "audit anchor does not match the audit chain",
	CodeAuditPrune:  "audit pruning above the anchor",
}

var codeName = [...]string{
	CodeOK:           "OK",
	CodeEncoding:     "ENCODING",
	CodeTooLarge:     "TOO_LARGE",
	CodeWrongChain:   "WRONG_CHAIN",
	CodeNoSignature:  "NO_SIGNATURE",
	CodeBadSignature: "BAD_SIGNATURE",
	CodeExpired:      "EXPIRED",
	CodeTooFarAhead:  "TOO_FAR_AHEAD",
	CodeReplay:       "REPLAY",
	CodeConflict:     "CONFLICT",
	CodeInvalidOp:    "INVALID_OP",
	CodeUnauthorized: "UNAUTHORIZED",
	CodeInternal:     "INTERNAL",
	CodeNotFound:     "NOT_FOUND",
	CodeBadQuery:     "BAD_QUERY",
	CodeKeyRetired:   "KEY_RETIRED",

	CodeGtxUnknownParticipant: "GTX_UNKNOWN_PARTICIPANT",
	CodeGtxWrongSigner:        "GTX_WRONG_SIGNER",
	CodeGtxDuplicateAnswer:    "GTX_DUPLICATE_ANSWER",
	CodeGtxNotAwaited:         "GTX_NOT_AWAITED",
	CodeGtxNotFound:           "GTX_NOT_FOUND",
	CodeGtxExists:             "GTX_EXISTS",
	CodeGtxBadShape:           "GTX_BAD_SHAPE",
	CodeGtxLimit:              "GTX_LIMIT",
	CodePruned:                "PRUNED",

	CodeAuditAnchor: "AUDIT_ANCHOR",
	CodeAuditPrune:  "AUDIT_PRUNE",
}

// Name is the code's stable upper-case name, e.g. "CONFLICT".
func (c Code) Name() string {
	if int(c) < len(codeName) {
		return codeName[c]
	}
	return fmt.Sprintf("CODE_%d", uint32(c))
}

// Message is the code's short human description.
func (c Code) Message() string {
	if int(c) < len(codeText) {
		return codeText[c]
	}
	return "unknown result code"
}

func (c Code) String() string { return c.Name() }

// Codes lists every defined code in numeric order.
func Codes() []Code {
	out := make([]Code, len(codeName))
	for i := range out {
		out[i] = Code(i)
	}
	return out
}
