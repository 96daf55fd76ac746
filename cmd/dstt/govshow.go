package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dstt/dstt/consensus/proposal"
	"github.com/dstt/dstt/types"
)

// govShowJSON is what gov show prints.
type govShowJSON struct {
	File          string             `json:"file"`
	Summary       string             `json:"summary"`
	ChainID       string             `json:"chain_id"`
	ValidUntil    uint64             `json:"valid_until_height"`
	Signatures    []govSignatureJSON `json:"signatures"`
	ApprovingOrgs []string           `json:"approving_orgs"`
	Threshold     int                `json:"threshold"`
	Needed        int                `json:"needed"` // more orgs' admins that must sign
	Orgs          []string           `json:"member_orgs"`
}

type govSignatureJSON struct {
	Address  string   `json:"address"`
	Identity string   `json:"identity"`
	AdminOf  []string `json:"admin_of"`
	Counts   string   `json:"counts_for,omitempty"` // the org it approves for in the matching
}

func (out govShowJSON) text(w io.Writer) {
	fmt.Fprintf(w, "proposal %s: %s\n  chain %s, valid until height %d\n", out.File, out.Summary, out.ChainID, out.ValidUntil)
	if len(out.Signatures) == 0 {
		fmt.Fprintln(w, "no signatures yet")
	} else {
		fmt.Fprintf(w, "%-40s  %-12s %s\n", "SIGNED BY (IDENTITY)", "COUNTS FOR", "ADMIN OF")
		for _, s := range out.Signatures {
			fmt.Fprintf(w, "%-40s  %-12s %s\n", s.Identity, orDash(s.Counts), orDash(strings.Join(s.AdminOf, ", ")))
		}
	}
	fmt.Fprintf(w, "approvals: %d of k = %d (orgs: %s)\n", len(out.ApprovingOrgs), out.Threshold, orDash(strings.Join(out.ApprovingOrgs, ", ")))
	var missing []string
	for _, o := range out.Orgs {
		if !slices.Contains(out.ApprovingOrgs, o) {
			missing = append(missing, o)
		}
	}
	switch {
	case out.Needed == 0:
		fmt.Fprintf(w, "enough approvals: dstt gov submit %s\n", out.File)
	case len(missing) < out.Needed:
		fmt.Fprintf(w, "needs %d more, but only %d member orgs have not approved (%s): it cannot pass with the chain's members\n", out.Needed, len(missing), orDash(strings.Join(missing, ", ")))
	default:
		fmt.Fprintf(w, "needs %d more: admins of %d of %s must sign (dstt gov sign %s --from ADMIN)\n", out.Needed, out.Needed, strings.Join(missing, ", "), out.File)
	}
}

func newGovShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show FILE",
		Short: "Show a proposal: who signed (for which org) and how many more approvals it needs",
		Long: `Show a proposal file: its change, each signature with the identity and the
member orgs it administers, and how many more orgs' admins must sign before
the tx is valid. Orgs, admins and k come from the node's committed state;
each signature counts for one org (the chain's matching of signers to orgs,
in the tx's signature order).`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			p, err := loadProposal(args[0])
			if err != nil {
				return err
			}
			if _, err := p.Tx(); err != nil { // every signature verifies
				return fmt.Errorf("%s: %w", args[0], err)
			}
			out, err := g.govShow(p)
			if err != nil {
				return err
			}
			out.File = args[0]
			return g.print(out, out.text)
		},
	}
}

// govShow resolves the proposal's signers against the committed state.
func (g *globals) govShow(p *proposal.File) (govShowJSON, error) {
	out := govShowJSON{Summary: p.Summary, ChainID: p.ChainID, ValidUntil: p.TxBody().ValidUntilHeight, Signatures: []govSignatureJSON{}, ApprovingOrgs: []string{}, Orgs: []string{}}
	c, ctx, cancel, err := g.readerClient("-") // public, committed state: unsigned
	if err != nil {
		return out, err
	}
	defer cancel()
	gov, err := g.govState(ctx, c)
	if err != nil {
		return out, err
	}
	for _, o := range gov.Orgs {
		out.Orgs = append(out.Orgs, o.ID)
	}
	// The chain matches signers in the tx's order: ascending public key.
	sigs := slices.Clone(p.Signatures)
	slices.SortFunc(sigs, func(a, b proposal.Signature) int {
		return strings.Compare(strings.ToLower(a.PubKey), strings.ToLower(b.PubKey))
	})
	var signers []string // distinct identities, in signature order
	for _, s := range sigs {
		id, err := c.Identity(ctx, s.Address)
		if err != nil {
			return out, fmt.Errorf("identity of signer %s: %w", s.Address, err)
		}
		out.Signatures = append(out.Signatures, govSignatureJSON{Address: s.Address, Identity: id.Identity, AdminOf: adminOf(gov.Orgs, id.Identity)})
		if !slices.Contains(signers, id.Identity) {
			signers = append(signers, id.Identity)
		}
	}
	for _, a := range types.Approvals(signers, gov.Orgs) {
		out.ApprovingOrgs = append(out.ApprovingOrgs, a.Org)
		for i, s := range out.Signatures {
			if s.Identity == a.Signer && s.Counts == "" {
				out.Signatures[i].Counts = a.Org
				break
			}
		}
	}
	out.Threshold = gov.Threshold
	out.Needed = max(0, gov.Threshold-len(out.ApprovingOrgs))
	return out, nil
}
