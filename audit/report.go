package audit

import (
	"errors"
	"fmt"
	"io"
)

// Report is the outcome of verifying one audit chain (VerifyConsensus,
// VerifyNodeLog, VerifyExportFile), as `dstt audit verify` prints it: the
// JSON field names are part of the CLI's output.
type Report struct {
	Chain       string        `json:"chain"`
	OK          bool          `json:"ok"`
	Entries     uint64        `json:"entries"`
	Head        string        `json:"head"`
	FirstBadSeq uint64        `json:"first_bad_seq,omitempty"`
	Error       string        `json:"error,omitempty"`
	Signatures  int           `json:"signatures,omitempty"`
	Anchor      *AnchorReport `json:"anchor,omitempty"`
	Unanchored  uint64        `json:"unanchored_entries,omitempty"`
	// PrunedBelow: the chain was pruned below this seq by a committed
	// audit anchor, and verified from it.
	PrunedBelow uint64 `json:"pruned_below,omitempty"`
	// Gaps: node log stretches lost and accepted (--accept-truncated-node-log).
	Gaps []string `json:"gaps,omitempty"`
	// Scope (exports): ScopeAnchored or ScopeInternal; Open lists what an
	// internal-only verification did not show.
	Scope string   `json:"scope,omitempty"`
	Open  []string `json:"not_verified,omitempty"`

	openStart, openEnd string // the export's ends not tied to anything trusted
}

// What an export's verification showed (Report.Scope).
const (
	// ScopeAnchored: the file's chain starts at seq 1 or at a given head,
	// and ends at a trusted head (given, or proven by the validators).
	ScopeAnchored = "anchored"
	// ScopeInternal: the lines form a hash chain, nothing more; the file
	// may have been cut at an open end, or made up entirely.
	ScopeInternal = "internal_consistency_only"
)

// ErrUnanchored marks an export that verified only for internal
// consistency (`dstt audit verify --file` exits 6 on it).
var ErrUnanchored = errors.New("audit: export verified for internal consistency only")

func (r *Report) settleScope() {
	r.Open = nil
	for _, o := range []string{r.openStart, r.openEnd} {
		if o != "" {
			r.Open = append(r.Open, o)
		}
	}
	r.Scope = ScopeAnchored
	if len(r.Open) > 0 {
		r.Scope = ScopeInternal
	}
}

// AnchorReport is an Anchor in a Report: where the consensus head was
// proven, hashes in upper-case hex.
type AnchorReport struct {
	Height         uint64 `json:"height"`
	Head           string `json:"audit_head"`
	SignedHeight   int64  `json:"signed_height"`
	AppHash        string `json:"app_hash"`
	BlockHash      string `json:"block_hash"`
	ValidatorsHash string `json:"validators_hash"`
	Validators     int    `json:"validators"`
	TotalPower     int64  `json:"total_power"`
	TrustedBy      string `json:"trusted_by"`
}

func anchorReport(a Anchor) *AnchorReport {
	return &AnchorReport{
		Height: a.Height, Head: a.Head.String(), SignedHeight: a.SignedHeight, AppHash: fmt.Sprintf("%X", a.AppHash),
		BlockHash: fmt.Sprintf("%X", a.BlockHash), ValidatorsHash: fmt.Sprintf("%X", a.ValidatorsHash),
		Validators: a.Validators, TotalPower: a.TotalPower, TrustedBy: a.TrustedBy,
	}
}

// Conclude records the verification's result: OK, or the error and the
// first bad seq it names.
func (r *Report) Conclude(err error) {
	if err != nil {
		r.OK, r.Error = false, err.Error()
		r.FirstBadSeq, _ = FirstBadSeq(err)
		r.Scope, r.Open = "", nil
		return
	}
	r.OK = true
}

// WriteText writes the report for a person.
func (r Report) WriteText(w io.Writer) {
	status := "OK"
	switch {
	case !r.OK:
		status = "FAILED"
	case r.Scope == ScopeInternal:
		status = "CONSISTENT, NOT ANCHORED"
	}
	fmt.Fprintf(w, "%s chain: %s\n  entries verified: %d, head %s\n", r.Chain, status, r.Entries, r.Head)
	if r.PrunedBelow > 1 {
		fmt.Fprintf(w, "  verified from seq %d: the entries below it were pruned by a committed audit anchor (in the verified chain)\n", r.PrunedBelow)
	}
	for _, gap := range r.Gaps {
		fmt.Fprintf(w, "  GAP (accepted truncation, signed by the audit key): %s\n", gap)
	}
	if r.Signatures > 0 {
		fmt.Fprintf(w, "  signatures verified: %d\n", r.Signatures)
	}
	if a := r.Anchor; a != nil {
		fmt.Fprintf(w, "  audit head %s after height %d is in app hash %s,\n  signed in block %d by validators %s (%d validators, power %d; %s)\n",
			a.Head, a.Height, a.AppHash, a.SignedHeight, a.ValidatorsHash, a.Validators, a.TotalPower, a.TrustedBy)
		if r.Unanchored > 0 {
			fmt.Fprintf(w, "  %d newer entries verified as a chain, not yet under a signed app hash\n", r.Unanchored)
		}
	}
	if r.OK && r.Scope == ScopeInternal {
		fmt.Fprintf(w, "  VERIFIED FOR INTERNAL CONSISTENCY ONLY: the lines form a hash chain, which anyone can make\n")
		for _, o := range r.Open {
			fmt.Fprintf(w, "  NOT VERIFIED: %s\n", o)
		}
	}
	if !r.OK {
		if r.FirstBadSeq > 0 {
			fmt.Fprintf(w, "  FIRST BAD ENTRY: seq %d\n", r.FirstBadSeq)
		}
		fmt.Fprintf(w, "  %s\n", r.Error)
	}
}
