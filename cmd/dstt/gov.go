package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/types"
)

// proposal is a governance tx being signed offline by org admins: the body
// is fixed once, every admin signs the same bytes, then anyone submits.
type proposal struct {
	ChainID    string        `json:"chain_id"`
	Summary    string        `json:"summary"`
	Body       string        `json:"body_hex"`
	Signatures []proposalSig `json:"signatures"`
	body       *types.TxBody
	raw        []byte
}

type proposalSig struct {
	Address   string `json:"address"`
	PubKey    string `json:"pub_key"`
	Signature string `json:"signature"`
}

func loadProposal(path string) (*proposal, error) {
	data, err := readInput(path)
	if err != nil {
		return nil, err
	}
	var p proposal
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("%s is not a proposal file: %v", path, err)
	}
	if p.raw, err = hex.DecodeString(p.Body); err != nil {
		return nil, fmt.Errorf("%s: body_hex: %v", path, err)
	}
	p.body = &types.TxBody{}
	if err := p.body.Unmarshal(p.raw); err != nil {
		return nil, fmt.Errorf("%s: body: %v", path, err)
	}
	if p.body.ChainId != p.ChainID {
		return nil, fmt.Errorf("%s: body is for chain %q, file says %q", path, p.body.ChainId, p.ChainID)
	}
	return &p, nil
}

func (p *proposal) save(path string) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// tx assembles the signed tx from the collected signatures.
func (p *proposal) tx() ([]byte, error) {
	tx := types.Tx{BodyBytes: p.raw}
	for i, s := range p.Signatures {
		pk, err1 := hex.DecodeString(s.PubKey)
		sig, err2 := hex.DecodeString(s.Signature)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("signature %d is not hex", i)
		}
		if !security.Verify(pk, types.SignBytes(p.ChainID, p.raw), sig) {
			return nil, fmt.Errorf("signature %d (%s) does not verify over this proposal", i, s.Address)
		}
		if slices.ContainsFunc(tx.Signatures, func(o types.Signature) bool { return bytes.Equal(o.PubKey, pk) }) {
			continue // the same key signed twice: it counts once
		}
		tx.Signatures = append(tx.Signatures, types.Signature{PubKey: pk, Signature: sig})
	}
	// The chain accepts several signatures only in ascending key order.
	slices.SortFunc(tx.Signatures, func(a, b types.Signature) int { return bytes.Compare(a.PubKey, b.PubKey) })
	return tx.Marshal()
}

func parsePubKey(s string) ([]byte, error) {
	if b, err := hex.DecodeString(s); err == nil && len(b) == 32 {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == 32 {
		return b, nil
	}
	return nil, fmt.Errorf("%q is not a 32-byte ed25519 public key in hex or base64 (see the pub_key in a node's config/priv_validator_key.json)", s)
}

func newGovCmd(g *globals) *cobra.Command {
	f := &txFlags{}
	cmd := &cobra.Command{
		Use:   "gov",
		Short: "Consortium governance: k-of-n org-approved validator and membership changes",
		Long: `Change the validator set or the member organisations. Such a tx is valid
only with signatures from admins of k distinct member orgs (k is in genesis;
default a majority). The flow:

  dstt gov propose add-validator --pub-key KEY --power 10 --org org5 -f prop.json
  dstt gov sign prop.json --from org1-admin      # each admin, offline if need be
  dstt gov sign prop.json --from org2-admin
  dstt gov submit prop.json

dstt gov validators and dstt gov orgs show the current state.`,
	}
	var out string
	var validFor uint64
	propose := &cobra.Command{Use: "propose", Short: "Write a proposal file for admins to sign"}
	propose.PersistentFlags().StringVarP(&out, "file", "f", "proposal.json", "proposal file to write")
	propose.PersistentFlags().Uint64Var(&validFor, "valid-for", 1000, "blocks the proposal stays valid for (at most the chain's tx_window)")
	write := func(summary string, op types.Op) error {
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
		body := types.TxBody{Ops: []types.Op{op}, Memo: summary, ValidUntilHeight: uint64(info.LatestHeight) + validFor}
		if err := c.Prepare(ctx, &body); err != nil {
			return err
		}
		raw, err := body.Marshal()
		if err != nil {
			return err
		}
		p := &proposal{ChainID: body.ChainId, Summary: summary, Body: hex.EncodeToString(raw), Signatures: []proposalSig{}}
		if err := p.save(out); err != nil {
			return err
		}
		return g.print(map[string]string{"file": out, "summary": summary}, func(w io.Writer) {
			fmt.Fprintf(w, "wrote %s: %s (valid until height %d)\nnext: dstt gov sign %s --from ADMIN (admins of k distinct orgs)\n", out, summary, body.ValidUntilHeight, out)
		})
	}
	var pubKey, org string
	var power int64
	var admins []string
	addVal := &cobra.Command{
		Use: "add-validator --pub-key KEY --power N --org ORG", Short: "Propose a new validator (or a new power)", Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			pk, err := parsePubKey(pubKey)
			if err != nil {
				return err
			}
			return write(fmt.Sprintf("add validator %s (power %d, org %s)", types.Address(pk), power, org),
				types.Op{Sum: &types.Op_AddValidator{AddValidator: &types.AddValidator{PubKey: pk, Power: power, Org: org}}})
		},
	}
	addVal.Flags().StringVar(&pubKey, "pub-key", "", "the validator's ed25519 public key (hex or base64)")
	addVal.Flags().Int64Var(&power, "power", 10, "voting power")
	addVal.Flags().StringVar(&org, "org", "", "member org that runs it")
	rmVal := &cobra.Command{
		Use: "remove-validator --pub-key KEY", Short: "Propose removing a validator", Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			pk, err := parsePubKey(pubKey)
			if err != nil {
				return err
			}
			return write("remove validator "+types.Address(pk), types.Op{Sum: &types.Op_RemoveValidator{RemoveValidator: &types.RemoveValidator{PubKey: pk}}})
		},
	}
	rmVal.Flags().StringVar(&pubKey, "pub-key", "", "the validator's ed25519 public key (hex or base64)")
	addOrg := &cobra.Command{
		Use: "add-org ID --admin ADDRESS...", Short: "Propose admitting a member org", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return write(fmt.Sprintf("add org %s (admins %s)", args[0], strings.Join(admins, ", ")),
				types.Op{Sum: &types.Op_AddOrg{AddOrg: &types.AddOrg{Id: args[0], Admins: admins}}})
		},
	}
	addOrg.Flags().StringSliceVar(&admins, "admin", nil, "address of an admin of the new org (repeatable)")
	rmOrg := &cobra.Command{
		Use: "remove-org ID", Short: "Propose removing a member org (it must have no validators left)", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return write("remove org "+args[0], types.Op{Sum: &types.Op_RemoveOrg{RemoveOrg: &types.RemoveOrg{Id: args[0]}}})
		},
	}
	propose.AddCommand(addVal, rmVal, addOrg, rmOrg)

	sign := &cobra.Command{
		Use: "sign FILE --from ADMIN", Short: "Add your signature to a proposal file", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			p, err := loadProposal(args[0])
			if err != nil {
				return err
			}
			s, err := g.signerFor(f.from, "your admin key")
			if err != nil {
				return err
			}
			if s == nil {
				return errors.New("pass --from ADMIN")
			}
			sig, err := s.Sign(types.SignBytes(p.ChainID, p.raw))
			if err != nil {
				return err
			}
			addr := types.Address(s.PubKey())
			for _, have := range p.Signatures {
				if have.Address == addr {
					return fmt.Errorf("%s already signed this proposal", addr)
				}
			}
			p.Signatures = append(p.Signatures, proposalSig{Address: addr, PubKey: hex.EncodeToString(s.PubKey()), Signature: hex.EncodeToString(sig)})
			if err := p.save(args[0]); err != nil {
				return err
			}
			return g.print(map[string]any{"file": args[0], "signatures": len(p.Signatures)}, func(w io.Writer) {
				fmt.Fprintf(w, "signed %s as %s (%d signatures): %s\n", args[0], addr, len(p.Signatures), p.Summary)
			})
		},
	}
	sign.Flags().StringVar(&f.from, "from", "", "your admin key")
	submit := &cobra.Command{
		Use: "submit FILE", Short: "Submit a signed proposal and wait for its block", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			p, err := loadProposal(args[0])
			if err != nil {
				return err
			}
			if len(p.Signatures) == 0 {
				return errors.New("the proposal has no signatures yet: dstt gov sign " + args[0] + " --from ADMIN")
			}
			tx, err := p.tx()
			if err != nil {
				return err
			}
			c, err := g.newClient()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := c.BroadcastCommit(ctx, tx)
			return g.report(res, err)
		},
	}
	show := func(use, short, path string) *cobra.Command {
		return &cobra.Command{
			Use: use, Short: short, Args: cobra.NoArgs,
			RunE: func(_ *cobra.Command, _ []string) error {
				var v any
				if err := g.rawQuery("-", path, nil, &v); err != nil {
					return err
				}
				return g.print(v, func(w io.Writer) {
					b, _ := json.MarshalIndent(v, "", "  ")
					fmt.Fprintln(w, string(b))
				})
			},
		}
	}
	cmd.AddCommand(propose, sign, submit,
		show("validators", "List the validator set with each validator's org", types.QueryValidators),
		show("orgs", "List the member orgs and the threshold k", types.QueryOrgs))
	return cmd
}
