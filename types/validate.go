package types

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Limits are the size rules of the stateless tx check. A node takes them
// from the chain's params; the gateway asks the node for them.
type Limits struct {
	MaxTxBytes    uint32
	MaxOps        uint32
	MaxKeyBytes   uint32
	MaxValueBytes uint32
	MaxSignatures uint32
	MaxMemoBytes  uint32
}

// Ed25519 sizes.
const (
	PubKeySize    = 32
	SignatureSize = 64
)

// ReplayID is a tx's identity for replay protection: what its signatures
// cover (the sign bytes: domain, chain id and body). Two envelopes around
// the same body share one ReplayID, however they are encoded or signed, so
// only one of them can ever commit.
func ReplayID(chainID string, bodyBytes []byte) [32]byte {
	return [32]byte(SignBytes(chainID, bodyBytes))
}

const rotateDomain = "dstt/rotate/v1\x00"

// RotateProofBytes is what the new key signs in a RotateKey op, proving
// that whoever rotates to it holds it: SHA-256 over a domain tag, the
// length-prefixed chain id, the old key and the new key.
func RotateProofBytes(chainID string, oldPubKey, newPubKey []byte) []byte {
	h := sha256.New()
	h.Write([]byte(rotateDomain))
	var n [binary.MaxVarintLen64]byte
	for _, b := range [][]byte{[]byte(chainID), oldPubKey, newPubKey} {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))])
		h.Write(b)
	}
	return h.Sum(nil)
}

// ValidateTx runs every check of a tx that needs neither state nor
// signature verification, cheapest first, and returns the decoded
// envelope and body. code is CodeOK when every check passed; otherwise msg
// says why. CheckTx, proposals, FinalizeBlock and the REST gateway all call
// this one function, so they cannot disagree; nothing here verifies a
// signature, so a refused tx costs no more than its bytes.
//
// The envelope and the body must each be their canonical encoding:
// exactly the bytes that re-encoding the decoded message gives (fields in
// number order, no unknown fields, no trailing or repeated fields, minimal
// varints). A tx with one signature is the normal case; a tx whose ops are
// all governance ops may carry several, in strictly ascending order of
// public key (so no signer appears twice and there is one order).
func ValidateTx(txBytes []byte, chainID string, lim Limits) (*Tx, *TxBody, Code, string) {
	if len(txBytes) > int(lim.MaxTxBytes) {
		return nil, nil, CodeTooLarge, fmt.Sprintf("tx is %d bytes, the limit is %d", len(txBytes), lim.MaxTxBytes)
	}
	var tx Tx
	if err := tx.Unmarshal(txBytes); err != nil {
		return nil, nil, CodeEncoding, fmt.Sprintf("envelope: %v", err)
	}
	switch n := len(tx.Signatures); {
	case n == 0:
		return nil, nil, CodeNoSignature, "add at least one signature"
	case n > int(lim.MaxSignatures):
		return nil, nil, CodeTooLarge, fmt.Sprintf("%d signatures, the limit is %d", n, lim.MaxSignatures)
	}
	if !canonical(&tx, txBytes) {
		return nil, nil, CodeEncoding, "envelope is not in canonical encoding (unknown fields, trailing bytes, or fields out of order); re-encode it"
	}
	for i, s := range tx.Signatures {
		if len(s.PubKey) != PubKeySize || len(s.Signature) != SignatureSize {
			return nil, nil, CodeBadSignature, fmt.Sprintf("signature %d: want a 32-byte ed25519 key and a 64-byte signature", i)
		}
		if i > 0 && bytes.Compare(tx.Signatures[i-1].PubKey, s.PubKey) >= 0 {
			return nil, nil, CodeEncoding, fmt.Sprintf("signature %d: signatures must be in strictly ascending order of public key (a signer may sign once)", i)
		}
	}
	var body TxBody
	if err := body.Unmarshal(tx.BodyBytes); err != nil {
		return nil, nil, CodeEncoding, fmt.Sprintf("body: %v", err)
	}
	if !canonical(&body, tx.BodyBytes) {
		return nil, nil, CodeEncoding, "body is not in canonical encoding (unknown fields, trailing bytes, or fields out of order)"
	}
	if body.ChainId != chainID {
		return nil, nil, CodeWrongChain, fmt.Sprintf("tx is for chain %q, this is %q", body.ChainId, chainID)
	}
	if len(body.Memo) > int(lim.MaxMemoBytes) {
		return nil, nil, CodeTooLarge, fmt.Sprintf("memo is %d bytes, the limit is %d", len(body.Memo), lim.MaxMemoBytes)
	}
	if !utf8.ValidString(body.Memo) {
		return nil, nil, CodeEncoding, "memo is not valid UTF-8 (protobuf strings are UTF-8)"
	}
	switch n := len(body.Ops); {
	case n == 0:
		return nil, nil, CodeInvalidOp, "the tx has no ops"
	case n > int(lim.MaxOps):
		return nil, nil, CodeTooLarge, fmt.Sprintf("%d ops, the limit is %d", n, lim.MaxOps)
	}
	for i := range body.Ops {
		if c, msg := checkOp(&body.Ops[i], lim); c != CodeOK {
			return nil, nil, c, fmt.Sprintf("op %d: %s", i, msg)
		}
	}
	if len(tx.Signatures) > 1 {
		for i := range body.Ops {
			if !IsGovOp(&body.Ops[i]) {
				return nil, nil, CodeInvalidOp, fmt.Sprintf("op %d: only a tx of governance ops takes more than one signature; sign this tx with one key", i)
			}
		}
	}
	return &tx, &body, CodeOK, ""
}

// IsGovOp reports whether op changes the consortium (validators, orgs) or
// its chain rules (retention, audit anchors, the snapshot interval).
func IsGovOp(op *Op) bool {
	switch op.Sum.(type) {
	case *Op_AddValidator, *Op_RemoveValidator, *Op_AddOrg, *Op_RemoveOrg:
		return true
	case *Op_SetRetention, *Op_AuditAnchor, *Op_SetSnapshotInterval:
		return true
	}
	return false
}

type marshaler interface {
	Size() int
	MarshalToSizedBuffer([]byte) (int, error)
}

// canonical reports whether b is exactly the encoding of m.
func canonical(m marshaler, b []byte) bool {
	if m.Size() != len(b) {
		return false
	}
	buf := make([]byte, len(b))
	n, err := m.MarshalToSizedBuffer(buf)
	return err == nil && n == len(b) && bytes.Equal(buf, b)
}

// IsCanonical reports whether b is the canonical encoding of a message that
// decodes from it (the test for signed queries and other signed messages).
func IsCanonical(m interface {
	marshaler
	Unmarshal([]byte) error
}, b []byte) bool {
	return m.Unmarshal(b) == nil && canonical(m, b)
}

// checkOp checks one op's shape and sizes. Rules that need the policy
// package (grant and rule syntax) or state stay with the engine.
func checkOp(op *Op, lim Limits) (Code, string) {
	switch o := op.Sum.(type) {
	case *Op_Put:
		if o.Put == nil {
			return CodeInvalidOp, "empty put"
		}
		if c, msg := CheckKey(o.Put.Key, lim.MaxKeyBytes); c != CodeOK {
			return c, msg
		}
		if len(o.Put.Value) > int(lim.MaxValueBytes) {
			return CodeTooLarge, fmt.Sprintf("value is %d bytes, the limit is %d", len(o.Put.Value), lim.MaxValueBytes)
		}
	case *Op_Delete:
		if o.Delete == nil {
			return CodeInvalidOp, "empty delete"
		}
		return CheckKey(o.Delete.Key, lim.MaxKeyBytes)
	case *Op_Check:
		if o.Check == nil {
			return CodeInvalidOp, "empty check"
		}
		return CheckKey(o.Check.Key, lim.MaxKeyBytes)
	case *Op_Grant:
		if o.Grant == nil {
			return CodeInvalidOp, "empty grant"
		}
	case *Op_Revoke:
		if o.Revoke == nil {
			return CodeInvalidOp, "empty revoke"
		}
	case *Op_Policy:
		if o.Policy == nil {
			return CodeInvalidOp, "empty policy rule"
		}
	case *Op_RotateKey:
		if o.RotateKey == nil || len(o.RotateKey.NewPubKey) != PubKeySize {
			return CodeInvalidOp, "rotate_key needs a 32-byte ed25519 public key"
		}
		if len(o.RotateKey.Proof) != SignatureSize {
			return CodeInvalidOp, "rotate_key needs a proof: the new key's 64-byte signature over the rotation (dstt keys rotate makes it)"
		}
	case *Op_AddValidator:
		if o.AddValidator == nil {
			return CodeInvalidOp, "empty add_validator"
		}
	case *Op_RemoveValidator:
		if o.RemoveValidator == nil {
			return CodeInvalidOp, "empty remove_validator"
		}
	case *Op_AddOrg:
		if o.AddOrg == nil {
			return CodeInvalidOp, "empty add_org"
		}
	case *Op_RemoveOrg:
		if o.RemoveOrg == nil {
			return CodeInvalidOp, "empty remove_org"
		}
	case *Op_SetRetention:
		if o.SetRetention == nil {
			return CodeInvalidOp, "empty set_retention"
		}
	case *Op_AuditAnchor:
		return checkAuditAnchor(o.AuditAnchor)
	case *Op_SetSnapshotInterval:
		return CheckSetSnapshotInterval(o.SetSnapshotInterval)
	case *Op_RegisterParticipant, *Op_RemoveParticipant, *Op_BeginGtx, *Op_GtxAnswer, *Op_GtxDeadline:
		return checkGtxOp(op, lim)
	case *Op_RegisterNode:
		return checkNodeOp("register_node", o.RegisterNode == nil, o.RegisterNode.GetNodeId(), o.RegisterNode.GetOrg())
	case *Op_RemoveNode:
		return checkNodeOp("remove_node", o.RemoveNode == nil, o.RemoveNode.GetNodeId(), o.RemoveNode.GetOrg())
	default:
		return CodeInvalidOp, "unknown or empty op"
	}
	return CodeOK, ""
}

// CheckKey is the one key syntax rule, for writes and reads alike: 1 to
// maxBytes bytes of valid UTF-8 in Unicode normalization form C, with no
// control characters (Cc), no format characters (Cf: zero-width and bidi
// controls, which make two keys look alike) and no line or paragraph
// separators. Keys so print, index and travel as JSON unchanged, and one
// visible key has one encoding.
func CheckKey(k string, maxBytes uint32) (Code, string) {
	if k == "" {
		return CodeInvalidOp, "empty key"
	}
	if len(k) > int(maxBytes) {
		return CodeTooLarge, fmt.Sprintf("key is %d bytes, the limit is %d", len(k), maxBytes)
	}
	if !utf8.ValidString(k) {
		return CodeInvalidOp, "key is not valid UTF-8"
	}
	for i, r := range k {
		switch {
		case unicode.IsControl(r):
			return CodeInvalidOp, fmt.Sprintf("key %q contains a control character at byte %d", k, i)
		case unicode.Is(unicode.Cf, r):
			return CodeInvalidOp, fmt.Sprintf("key %q contains an invisible format character U+%04X at byte %d", k, r, i)
		case unicode.In(r, unicode.Zl, unicode.Zp):
			return CodeInvalidOp, fmt.Sprintf("key %q contains a line or paragraph separator at byte %d", k, i)
		}
	}
	if !norm.NFC.IsNormalString(k) {
		return CodeInvalidOp, fmt.Sprintf("key %q is not in Unicode normalization form C (NFC); normalize it before use", k)
	}
	return CodeOK, ""
}
