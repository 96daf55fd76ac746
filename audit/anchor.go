package audit

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Audit export anchors. The consensus chain is never pruned by default. A
// governance tx (the AuditAnchor op) records that an export holds the
// chain up to an entry (its seq and hash, which every validator checks
// against its own chain) and may prune the entries below a seq at or below
// that anchor on every validator. The tx's own entry, above the pruned
// part, records it: action ActionAuditAnchor, one resource
// AnchorResource(seq, hash, pruneBelow). So a chain that starts above seq
// 1 verifies only when its verified part holds the committed entry that
// pruned it there (CheckPruned).

// ActionAuditAnchor is the action of an AuditAnchor tx's entry.
const ActionAuditAnchor = "audit_anchor"

// anchorResourcePrefix starts an AuditAnchor op's resource.
const anchorResourcePrefix = "audit_anchor:"

// AnchorResource is an AuditAnchor op's resource in its tx's entry:
// "audit_anchor:SEQ:HASH:PRUNE_BELOW" (HASH in lower-case hex; SEQ 0 and
// an empty HASH when the op only prunes).
func AnchorResource(seq uint64, hash []byte, pruneBelow uint64) string {
	return fmt.Sprintf("%s%d:%s:%d", anchorResourcePrefix, seq, hex.EncodeToString(hash), pruneBelow)
}

// ParseAnchorResource reverses AnchorResource; ok is false for any other
// resource.
func ParseAnchorResource(r string) (seq uint64, hash []byte, pruneBelow uint64, ok bool) {
	rest, found := strings.CutPrefix(r, anchorResourcePrefix)
	parts := strings.Split(rest, ":")
	if !found || len(parts) != 3 {
		return 0, nil, 0, false
	}
	seq, err1 := strconv.ParseUint(parts[0], 10, 64)
	hash, err2 := hex.DecodeString(parts[1])
	pruneBelow, err3 := strconv.ParseUint(parts[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, nil, 0, false
	}
	return seq, hash, pruneBelow, true
}

// PrunedBy reports whether e is a committed AuditAnchor tx entry that
// pruned the chain below seq from.
func PrunedBy(e *Entry, from uint64) bool {
	if e.Action != ActionAuditAnchor || e.Code != 0 {
		return false
	}
	for _, r := range e.Resources {
		if _, _, below, ok := ParseAnchorResource(r); ok && below == from {
			return true
		}
	}
	return false
}

// NewVerifierAt starts at entry seq of a chain pruned below it: the first
// entry must have that seq and its prev_hash is taken as it is (the entry
// it names is gone); every later entry is checked as NewVerifier does.
// Seq 0 or 1 is NewVerifier(ChainHead{}).
func NewVerifierAt(seq uint64) *Verifier {
	if seq <= 1 {
		return NewVerifier(ChainHead{})
	}
	return &Verifier{head: ChainHead{Seq: seq - 1}, open: true}
}

// ErrPrunedStart: a chain starts above seq 1 but its verified part holds
// no committed AuditAnchor entry that pruned it there.
var ErrPrunedStart = fmt.Errorf("%w: the chain starts above seq 1 without a committed audit anchor that pruned it there", ErrGap)
