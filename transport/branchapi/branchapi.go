package branchapi

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/dstt/dstt/types"
)

// Header names of a signed request.
const (
	HeaderKey       = "Dstt-Executor-Key"
	HeaderTime      = "Dstt-Executor-Time"
	HeaderSignature = "Dstt-Executor-Signature"
)

// MaxClockSkew is how far a request's time may be from the participant's clock.
const MaxClockSkew = 5 * time.Minute

// MaxRequestBytes bounds a request body a participant reads; MaxAnswerBytes
// bounds an answer an executor reads.
const (
	MaxRequestBytes = 1 << 20
	MaxAnswerBytes  = 1 << 20
)

// Operation names, as they appear in Request.Operation.
const (
	OpAction     = "action"
	OpCompensate = "compensate"
	OpTry        = "try"
	OpConfirm    = "confirm"
	OpCancel     = "cancel"
)

// Origin returns the operation that op undoes (action for compensate, try
// for cancel), or "" when op undoes nothing.
func Origin(op string) string {
	switch op {
	case OpCompensate:
		return OpAction
	case OpCancel:
		return OpTry
	}
	return ""
}

// opNames maps the engine's operations to their names here.
var opNames = map[types.GtxOp]string{
	types.GtxOp_GTX_OP_ACTION: OpAction, types.GtxOp_GTX_OP_COMPENSATE: OpCompensate,
	types.GtxOp_GTX_OP_TRY: OpTry, types.GtxOp_GTX_OP_CONFIRM: OpConfirm, types.GtxOp_GTX_OP_CANCEL: OpCancel,
}

// OpName returns the name of op ("" for none of the five).
func OpName(op types.GtxOp) string { return opNames[op] }

// ParseOp returns the engine's operation named name (GTX_OP_UNSPECIFIED
// for none of the five).
func ParseOp(name string) types.GtxOp {
	for op, n := range opNames {
		if n == name {
			return op
		}
	}
	return types.GtxOp_GTX_OP_UNSPECIFIED
}

// ValidOperation reports whether op is one of the five operations.
func ValidOperation(op string) bool { return ParseOp(op) != types.GtxOp_GTX_OP_UNSPECIFIED }

// Request asks a participant to run one branch operation: the step the
// chain awaits (gtx, branch, operation, attempt), the participant it is
// for and that operation's payload from the gtx. Deadline is the gtx's
// deadline (block time, Unix ms), for information.
type Request struct {
	ChainID        string `json:"chain_id"`
	GID            string `json:"gid"`
	Branch         uint32 `json:"branch"`
	Operation      string `json:"operation"`
	Attempt        uint32 `json:"attempt"`
	Participant    string `json:"participant"`
	Payload        []byte `json:"payload"`
	DeadlineUnixMs int64  `json:"deadline_unix_ms,omitempty"`
}

// Outcome values of an Answer.
const (
	OutcomeSucceeded = "succeeded"
	OutcomeFailed    = "failed"
	OutcomeNotYet    = "not_yet"
)

// Answer is a participant's reply. With Succeeded or Failed, Signature is
// the signature by the participant key PubKey of types.GtxAnswerSignBytes
// for the request's step, this outcome and Result; the executor submits
// them as they are in a types.GtxAnswer.
type Answer struct {
	Outcome   string `json:"outcome"`
	Result    []byte `json:"result,omitempty"`
	PubKey    []byte `json:"pub_key,omitempty"`
	Signature []byte `json:"signature,omitempty"`
}

// Status returns the engine's status for a definite outcome
// (GTX_STATUS_UNSPECIFIED otherwise).
func (a Answer) Status() types.GtxStatus {
	switch a.Outcome {
	case OutcomeSucceeded:
		return types.GtxStatus_GTX_STATUS_SUCCEEDED
	case OutcomeFailed:
		return types.GtxStatus_GTX_STATUS_FAILED
	}
	return types.GtxStatus_GTX_STATUS_UNSPECIFIED
}

// SignBytes returns the bytes a participant signs to give answer a to
// request r (types.GtxAnswerSignBytes).
func (r Request) SignBytes(a Answer) []byte {
	return types.GtxAnswerSignBytes(r.ChainID, r.GID, r.Participant, r.Branch, ParseOp(r.Operation), r.Attempt,
		types.GtxPayloadHash(r.Payload), a.Status(), a.Result)
}

// Definite reports whether a is an answer to submit (succeeded or failed).
func (a Answer) Definite() bool {
	return a.Outcome == OutcomeSucceeded || a.Outcome == OutcomeFailed
}

const requestSignDomain = "dstt/gtx-branch-request/v1\x00"

// RequestSignBytes is what an executor signs: a domain-separated SHA-256
// of the chain id and the body (each length-prefixed with a uvarint), then
// the time in Unix milliseconds (8 bytes big-endian).
func RequestSignBytes(chainID string, timeUnixMs int64, body []byte) []byte {
	h := sha256.New()
	h.Write([]byte(requestSignDomain))
	var n [binary.MaxVarintLen64]byte
	for _, b := range [][]byte{[]byte(chainID), body} {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))])
		h.Write(b)
	}
	var tail [8]byte
	binary.BigEndian.PutUint64(tail[:], uint64(timeUnixMs))
	h.Write(tail[:])
	return h.Sum(nil)
}

// SignRequest sets the signature headers on r for body, signed by sign
// (an ed25519 signer with public key pub) at time now.
func SignRequest(r *http.Request, chainID string, body, pub []byte, now time.Time, sign func([]byte) ([]byte, error)) error {
	ms := now.UnixMilli()
	sig, err := sign(RequestSignBytes(chainID, ms, body))
	if err != nil {
		return fmt.Errorf("branchapi: signing the request: %w", err)
	}
	r.Header.Set(HeaderKey, base64.StdEncoding.EncodeToString(pub))
	r.Header.Set(HeaderTime, strconv.FormatInt(ms, 10))
	r.Header.Set(HeaderSignature, base64.StdEncoding.EncodeToString(sig))
	return nil
}

// Errors of VerifyRequest.
var (
	ErrUnsigned     = errors.New("branchapi: request not signed")
	ErrUntrusted    = errors.New("branchapi: request signed by a key this participant does not trust")
	ErrStale        = errors.New("branchapi: request time too far from the participant's clock")
	ErrBadSignature = errors.New("branchapi: request signature does not verify")
)

// VerifyRequest checks the signature headers of a request with body body:
// a key in trusted, a time within MaxClockSkew of now, a valid signature
// over chainID, that time and body. It returns the signer's public key.
func VerifyRequest(h http.Header, chainID string, body []byte, trusted [][]byte, now time.Time) ([]byte, error) {
	key, err1 := base64.StdEncoding.DecodeString(h.Get(HeaderKey))
	sig, err2 := base64.StdEncoding.DecodeString(h.Get(HeaderSignature))
	ms, err3 := strconv.ParseInt(h.Get(HeaderTime), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || len(key) != ed25519.PublicKeySize {
		return nil, ErrUnsigned
	}
	if !slices.ContainsFunc(trusted, func(k []byte) bool { return string(k) == string(key) }) {
		return nil, ErrUntrusted
	}
	if d := now.Sub(time.UnixMilli(ms)); d > MaxClockSkew || d < -MaxClockSkew {
		return nil, ErrStale
	}
	if !ed25519.Verify(key, RequestSignBytes(chainID, ms, body), sig) {
		return nil, ErrBadSignature
	}
	return key, nil
}
