package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dstt/dstt/consensus/proposal"
	"github.com/dstt/dstt/transport/client"
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
	var from string
	cmd := &cobra.Command{
		Use:   "show FILE",
		Short: "Show a proposal: who signed (for which org) and how many more approvals it needs",
		Long: `Show a proposal file: its change, each signature with the identity and the
member orgs it administers, and how many more orgs' admins must sign before
the tx is valid. Orgs, admins and k come from the node's committed state;
each signature counts for one org (the chain's matching of signers to orgs,
in the tx's signature order). On a chain with access control the reads are
signed with --from (default: the home's key), an org admin's or a policy
reader's.`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			p, err := loadProposal(args[0])
			if err != nil {
				return err
			}
			if _, err := p.Tx(); err != nil { // every signature verifies
				return fmt.Errorf("%s: %w", args[0], err)
			}
			out, err := g.govShow(p, from)
			if err != nil {
				return err
			}
			out.File = args[0]
			return g.print(out, out.text)
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "key that signs the reads (default: the home's; - for unsigned)")
	return cmd
}

// govShow resolves the proposal's signers against the committed state.
func (g *globals) govShow(p *proposal.File, from string) (govShowJSON, error) {
	out := govShowJSON{Summary: p.Summary, ChainID: p.ChainID, ValidUntil: p.TxBody().ValidUntilHeight, Signatures: []govSignatureJSON{}, ApprovingOrgs: []string{}, Orgs: []string{}}
	var gov types.OrgsView
	var signers []string // distinct identities, in signature order
	err := g.membersRead(from, func(ctx context.Context, c *client.Client) error {
		var err error
		if gov, err = g.govState(ctx, c); err != nil {
			return err
		}
		out.Signatures, signers, err = govSigners(ctx, c, p, gov.Orgs)
		return err
	})
	if err != nil {
		return out, err
	}
	for _, o := range gov.Orgs {
		out.Orgs = append(out.Orgs, o.ID)
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

// govSigners resolves p's signatures to identities (in the tx's order)
// and the orgs each administers; signers are the distinct identities.
func govSigners(ctx context.Context, c *client.Client, p *proposal.File, orgs []types.Org) (sigsOut []govSignatureJSON, signers []string, err error) {
	sigsOut = []govSignatureJSON{}
	// The chain matches signers in the tx's order: ascending public key.
	sigs := slices.Clone(p.Signatures)
	slices.SortFunc(sigs, func(a, b proposal.Signature) int {
		return strings.Compare(strings.ToLower(a.PubKey), strings.ToLower(b.PubKey))
	})
	for _, s := range sigs {
		id, err := c.Identity(ctx, s.Address)
		if err != nil {
			return nil, nil, fmt.Errorf("identity of signer %s: %w", s.Address, err)
		}
		sigsOut = append(sigsOut, govSignatureJSON{Address: s.Address, Identity: id.Identity, AdminOf: adminOf(orgs, id.Identity)})
		if !slices.Contains(signers, id.Identity) {
			signers = append(signers, id.Identity)
		}
	}
	return sigsOut, signers, nil
}
