package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dstt/dstt/consensus/proposal"
	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/transport/client"
	"github.com/dstt/dstt/types"
)

// loadProposal reads a proposal file (- for standard input).
func loadProposal(path string) (*proposal.File, error) {
	data, err := readInput(path)
	if err != nil {
		return nil, err
	}
	return proposal.Decode(path, data)
}

func newGovCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gov",
		Short: "Consortium governance: k-of-n org-approved validator and membership changes",
		Long: `Change the validator set or the member organisations. Such a tx is valid
only with signatures from admins of k distinct member orgs (k is in genesis;
default a majority). The flow:

  dstt gov propose add-validator --pub-key KEY --power 10 --org org5 -f prop.json
  dstt gov sign prop.json --from org1-admin      # each admin, offline if need be
  dstt gov sign prop.json --from org2-admin
  dstt gov show prop.json                        # who signed, how many more
  dstt gov submit prop.json

dstt gov validators and dstt gov orgs show the current state.`,
	}
	cmd.AddCommand(newGovProposeCmd(g), newGovSignCmd(g), newGovShowCmd(g), newGovSubmitCmd(g), newGovValidatorsCmd(g), newGovOrgsCmd(g))
	return cmd
}

// proposeFlags are the flags every `gov propose` subcommand shares.
type proposeFlags struct {
	out      string
	validFor uint64
}

// writeProposal prepares a one-op governance tx against the node and
// writes it as a proposal file for the admins to sign.
func (g *globals) writeProposal(f *proposeFlags, summary string, op types.Op) error {
	c, err := g.newClient()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	info, err := c.ChainInfo(ctx)
	if err != nil {
		return err
	}
	body := types.TxBody{Ops: []types.Op{op}, Memo: summary, ValidUntilHeight: uint64(info.LatestHeight) + f.validFor}
	if err := c.Prepare(ctx, &body); err != nil {
		return err
	}
	p, err := proposal.New(&body, summary)
	if err != nil {
		return err
	}
	if err := p.Save(f.out); err != nil {
		return err
	}
	return g.print(map[string]string{"file": f.out, "summary": summary}, func(w io.Writer) {
		fmt.Fprintf(w, "wrote %s: %s (valid until height %d)\nnext: dstt gov sign %s --from ADMIN (admins of k distinct orgs)\n", f.out, summary, body.ValidUntilHeight, f.out)
	})
}

func newGovProposeCmd(g *globals) *cobra.Command {
	f := &proposeFlags{}
	propose := &cobra.Command{Use: "propose", Short: "Write a proposal file for admins to sign"}
	propose.PersistentFlags().StringVarP(&f.out, "file", "f", "proposal.json", "proposal file to write")
	propose.PersistentFlags().Uint64Var(&f.validFor, "valid-for", 1000, "blocks the proposal stays valid for (at most the chain's tx_window)")
	var pubKey, org string
	var power int64
	var admins []string
	addVal := &cobra.Command{
		Use: "add-validator --pub-key KEY --power N --org ORG", Short: "Propose a new validator (or a new power)", Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			pk, err := proposal.ParsePubKey(pubKey)
			if err != nil {
				return err
			}
			return g.writeProposal(f, fmt.Sprintf("add validator %s (power %d, org %s)", types.Address(pk), power, org),
				types.Op{Sum: &types.Op_AddValidator{AddValidator: &types.AddValidator{PubKey: pk, Power: power, Org: org}}})
		},
	}
	addVal.Flags().StringVar(&pubKey, "pub-key", "", "the validator's ed25519 public key (hex or base64)")
	addVal.Flags().Int64Var(&power, "power", 10, "voting power")
	addVal.Flags().StringVar(&org, "org", "", "member org that runs it")
	rmVal := &cobra.Command{
		Use: "remove-validator --pub-key KEY", Short: "Propose removing a validator", Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			pk, err := proposal.ParsePubKey(pubKey)
			if err != nil {
				return err
			}
			return g.writeProposal(f, "remove validator "+types.Address(pk), types.Op{Sum: &types.Op_RemoveValidator{RemoveValidator: &types.RemoveValidator{PubKey: pk}}})
		},
	}
	rmVal.Flags().StringVar(&pubKey, "pub-key", "", "the validator's ed25519 public key (hex or base64)")
	addOrg := &cobra.Command{
		Use: "add-org ID --admin ADDRESS...", Short: "Propose admitting a member org", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return g.writeProposal(f, fmt.Sprintf("add org %s (admins %s)", args[0], strings.Join(admins, ", ")),
				types.Op{Sum: &types.Op_AddOrg{AddOrg: &types.AddOrg{Id: args[0], Admins: admins}}})
		},
	}
	addOrg.Flags().StringSliceVar(&admins, "admin", nil, "address of an admin of the new org (repeatable)")
	rmOrg := &cobra.Command{
		Use: "remove-org ID", Short: "Propose removing a member org (it must have no validators left)", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return g.writeProposal(f, "remove org "+args[0], types.Op{Sum: &types.Op_RemoveOrg{RemoveOrg: &types.RemoveOrg{Id: args[0]}}})
		},
	}
	propose.AddCommand(addVal, rmVal, addOrg, rmOrg, newGovSetRetentionCmd(g, f), newGovSetSnapshotIntervalCmd(g, f))
	return propose
}

func newGovSignCmd(g *globals) *cobra.Command {
	var from string
	var offline bool
	sign := &cobra.Command{
		Use: "sign FILE --from ADMIN", Short: "Add your signature to a proposal file (only an admin of a member org may)", Args: cobra.ExactArgs(1),
		Long: `Add the signature of --from to a proposal file. The node is asked first
(committed state): a key that is not an admin of a member org would not
count, so it is refused and nothing is written. --offline signs without
asking (dstt gov show FILE checks the signatures later, with the node).`,
		RunE: func(_ *cobra.Command, args []string) error {
			p, err := loadProposal(args[0])
			if err != nil {
				return err
			}
			s, err := g.signerFor(from, "your admin key")
			if err != nil {
				return err
			}
			if s == nil {
				return usageErr("pass --from ADMIN")
			}
			var orgs []string
			if !offline {
				if orgs, err = g.memberOrgsOf(s); err != nil {
					return err
				}
			}
			addr, err := p.Sign(s)
			if err != nil {
				return err
			}
			if err := p.Save(args[0]); err != nil {
				return err
			}
			out := map[string]any{"file": args[0], "signatures": len(p.Signatures), "address": addr, "admin_of": orgs}
			return g.print(out, func(w io.Writer) {
				fmt.Fprintf(w, "signed %s as %s (%d signatures): %s\n", args[0], addr, len(p.Signatures), p.Summary)
				if !offline {
					fmt.Fprintf(w, "admin of: %s; see who else must sign: dstt gov show %s\n", strings.Join(orgs, ", "), args[0])
				}
			})
		},
	}
	sign.Flags().StringVar(&from, "from", "", "your admin key")
	sign.Flags().BoolVar(&offline, "offline", false, "sign without asking the node whether the key administers a member org")
	return sign
}

// govState is the committed governance state: the orgs and k.
func (g *globals) govState(ctx context.Context, c *client.Client) (types.OrgsView, error) {
	var v types.OrgsView
	raw, err := c.Raw(ctx, types.QueryOrgs, nil)
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("%w: decode orgs: %v", client.ErrQuery, err)
	}
	return v, nil
}

// memberOrgsOf lists the member orgs the identity of the key s
// administers at the committed state, asking with s itself; errNotMember
// when none. The orgs answer their admins, so a key they refuse
// administers none.
func (g *globals) memberOrgsOf(s security.Signer) ([]string, error) {
	keyAddr := types.Address(s.PubKey())
	var id types.IdentityView
	var gov types.OrgsView
	err := g.membersReadAs(s, func(ctx context.Context, c *client.Client) error {
		var err error
		if id, err = c.Identity(ctx, keyAddr); err != nil {
			return err
		}
		if gov, err = g.govState(ctx, c); errors.Is(err, client.ErrUnauthorized) {
			return nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	orgs := adminOf(gov.Orgs, id.Identity)
	if len(orgs) == 0 {
		return nil, fmt.Errorf("%w: key %s (identity %s) administers none of the member orgs, so its signature would not count; nothing was signed (the orgs and their admins: dstt gov orgs)", errNotMember, keyAddr, id.Identity)
	}
	return orgs, nil
}

// adminOf lists the ids of the orgs identity administers.
func adminOf(orgs []types.Org, identity string) []string {
	out := []string{}
	for _, o := range orgs {
		if slices.Contains(o.Admins, identity) {
			out = append(out, o.ID)
		}
	}
	return out
}

func newGovSubmitCmd(g *globals) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use: "submit FILE", Short: "Submit a signed proposal and wait for its block", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			p, err := loadProposal(args[0])
			if err != nil {
				return err
			}
			if len(p.Signatures) == 0 {
				return errors.New("the proposal has no signatures yet: dstt gov sign " + args[0] + " --from ADMIN")
			}
			tx, err := p.Tx()
			if err != nil {
				return err
			}
			c, err := g.newClient()
			if err != nil {
				return err
			}
			ctx, cancel := g.commitContext(timeout)
			defer cancel()
			res, err := c.BroadcastCommit(ctx, tx)
			return g.report(res, err)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for the node")
	return cmd
}

func newGovValidatorsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "validators", Short: "List the validator set with each validator's org", Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			var vs []types.ValidatorView
			if err := g.govQuery("-", types.QueryValidators, &vs); err != nil { // open: every commit names the set
				return err
			}
			return g.print(vs, func(w io.Writer) {
				var total int64
				fmt.Fprintf(w, "%-40s  %-8s %-12s %s\n", "ADDRESS", "POWER", "ORG", "PUB KEY")
				for _, v := range vs {
					total += v.Power
					fmt.Fprintf(w, "%-40s  %-8d %-12s %s\n", v.Address, v.Power, orDash(v.Org), v.PubKey)
				}
				fmt.Fprintf(w, "%d validators, total power %d\n", len(vs), total)
			})
		},
	}
}

func newGovOrgsCmd(g *globals) *cobra.Command {
	var from string
	cmd := &cobra.Command{
		Use: "orgs", Short: "List the member orgs and the threshold k", Args: cobra.NoArgs,
		Long: `List the member orgs, their admins' addresses and validators, and k. On a
chain with access control the read is signed with --from (default: the
home's key) and answered to org admins and policy readers (admins, the
auditor role).`,
		RunE: func(_ *cobra.Command, _ []string) error {
			var v types.OrgsView
			if err := g.govQuery(from, types.QueryOrgs, &v); err != nil {
				return err
			}
			return g.print(v, func(w io.Writer) {
				fmt.Fprintf(w, "%-12s %-10s %s\n", "ORG", "VALIDATORS", "ADMINS")
				for _, o := range v.Orgs {
					fmt.Fprintf(w, "%-12s %-10d %s\n", o.ID, len(o.Validators), strings.Join(o.Admins, ", "))
				}
				fmt.Fprintf(w, "%d member orgs; a governance tx needs admins of k = %d distinct orgs\n", len(v.Orgs), v.Threshold)
			})
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "key that signs the read (default: the home's; - for unsigned)")
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// govQuery runs a governance query against the committed state, through
// the node's gateway (or its RPC with --transport rpc), signed with from.
func (g *globals) govQuery(from, path string, out any) error {
	return g.membersRead(from, func(ctx context.Context, c *client.Client) error {
		raw, err := c.Raw(ctx, path, nil)
		if err != nil {
			return err
		}
		return json.Unmarshal(raw, out)
	})
}

// membersRead runs read on a client whose queries are signed with the key
// from (the home's key when empty; "-": unsigned): the member orgs and the
// identities answer, on a chain with access control, a signed read only.
func (g *globals) membersRead(from string, read func(context.Context, *client.Client) error) error {
	s, err := g.signerFor(from, "to sign the read; --from - for unsigned")
	if err != nil {
		return err
	}
	return g.membersReadAs(s, read)
}

// membersReadAs is membersRead with the signing key s (nil: unsigned). An
// unsigned read the node refuses (it refuses those only because they are
// unsigned) says which flag signs it.
func (g *globals) membersReadAs(s security.Signer, read func(context.Context, *client.Client) error) error {
	c, err := g.newClient()
	if err != nil {
		return err
	}
	defer c.Close()
	if s != nil {
		c.SetReader(s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err = read(ctx, c)
	if s == nil && errors.Is(err, client.ErrUnauthorized) {
		return fmt.Errorf("%w: this chain has access control: the member orgs and identities answer signed reads only; pass --from KEY (an org admin's, an admin's or an auditor's key, or a key of the identity itself)", client.ErrUnauthorized)
	}
	return err
}
