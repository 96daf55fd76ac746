package types

import "fmt"

// AuditAnchorHashBytes is the size of an audit entry hash (SHA-256).
const AuditAnchorHashBytes = 32

// checkAuditAnchor is the stateless check of an AuditAnchor op: either it
// anchors an entry (seq above 0 with a 32-byte hash) or it only prunes
// below the recorded anchor (seq 0, no hash, prune_below above 0).
func checkAuditAnchor(a *AuditAnchor) (Code, string) {
	switch {
	case a == nil:
		return CodeInvalidOp, "empty audit_anchor"
	case a.Seq == 0 && len(a.Hash) != 0:
		return CodeInvalidOp, "audit_anchor: a hash needs the seq of its entry"
	case a.Seq == 0 && a.PruneBelow == 0:
		return CodeInvalidOp, "audit_anchor: nothing to do (no seq and no prune_below)"
	case a.Seq > 0 && len(a.Hash) != AuditAnchorHashBytes:
		return CodeInvalidOp, fmt.Sprintf("audit_anchor: hash is %d bytes, want %d (SHA-256)", len(a.Hash), AuditAnchorHashBytes)
	}
	return CodeOK, ""
}
