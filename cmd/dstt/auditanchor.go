package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/types"
)

// newAuditAnchorCmd is `dstt audit anchor`: a governance proposal of the
// op AuditAnchor, recording that an export holds the consensus audit
// chain up to its last entry, optionally pruning the chain below that
// entry (docs/OPERATIONS.md, The audit log).
func newAuditAnchorCmd(g *globals) *cobra.Command {
	pf := &proposeFlags{}
	var export, entry string
	var prune bool
	cmd := &cobra.Command{
		Use:   "anchor (--export FILE | --entry SEQ:HASH) [--prune]",
		Short: "Propose an audit export anchor (a governance proposal: then gov sign, gov submit)",
		Long: `Write a governance proposal of an audit export anchor: the chain records that
an export holds the consensus audit chain up to entry SEQ, whose hash is HASH.
Every validator checks that hash against its own chain (AUDIT_ANCHOR otherwise).
--export takes SEQ:HASH from the last entry of a native JSON export (dstt audit
export --format json), after checking that its lines form a hash chain.
--prune also drops, on every validator, the entries below SEQ once the
proposal is committed: reads below answer PRUNED, and verification starts at
SEQ. Nothing is pruned otherwise, ever.`,
		Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			head, err := anchorHead(export, entry)
			if err != nil {
				return err
			}
			op := &types.AuditAnchor{Seq: head.Seq, Hash: head.Hash}
			summary := fmt.Sprintf("anchor audit entry %s", head)
			if prune {
				op.PruneBelow = head.Seq
				summary += fmt.Sprintf("; prune the audit chain below seq %d", head.Seq)
			}
			return g.writeProposal(pf, summary, types.Op{Sum: &types.Op_AuditAnchor{AuditAnchor: op}})
		},
	}
	registerProposeFlags(cmd, pf)
	cmd.Flags().StringVar(&export, "export", "", "native JSON export whose last entry to anchor")
	cmd.Flags().StringVar(&entry, "entry", "", "the entry to anchor, SEQ:HASH (hash in hex)")
	cmd.Flags().BoolVar(&prune, "prune", false, "also prune the audit chain below the anchored entry")
	return cmd
}

// newAuditPruneCmd is `dstt audit prune`: a governance proposal that
// prunes the consensus audit chain below a seq at or below the recorded
// anchor.
func newAuditPruneCmd(g *globals) *cobra.Command {
	pf := &proposeFlags{}
	var below uint64
	cmd := &cobra.Command{
		Use:   "prune --below SEQ",
		Short: "Propose pruning the consensus audit chain below SEQ, at most the recorded anchor (a governance proposal)",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			if below == 0 {
				return errors.New("--below SEQ is required: the lowest entry to keep, at most the recorded audit anchor")
			}
			op := &types.AuditAnchor{PruneBelow: below}
			return g.writeProposal(pf, fmt.Sprintf("prune the audit chain below seq %d", below), types.Op{Sum: &types.Op_AuditAnchor{AuditAnchor: op}})
		},
	}
	registerProposeFlags(cmd, pf)
	cmd.Flags().Uint64Var(&below, "below", 0, "the lowest entry to keep (at most the recorded anchor's seq)")
	return cmd
}

func registerProposeFlags(cmd *cobra.Command, pf *proposeFlags) {
	cmd.Flags().StringVarP(&pf.out, "file", "f", "proposal.json", "proposal file to write")
	cmd.Flags().Uint64Var(&pf.validFor, "valid-for", 1000, "blocks the proposal stays valid for (at most the chain's tx_window)")
}

// anchorHead is the entry to anchor: the last of export, checked as a
// hash chain, or entry (SEQ:HASH).
func anchorHead(export, entry string) (audit.ChainHead, error) {
	switch {
	case (export == "") == (entry == ""):
		return audit.ChainHead{}, errors.New("give either --export FILE or --entry SEQ:HASH")
	case entry != "":
		return audit.ParseChainHead(entry)
	}
	rep, err := audit.VerifyExportFile(export, audit.ChainHead{}, audit.ChainHead{})
	if err != nil {
		return audit.ChainHead{}, fmt.Errorf("export %s: %w", export, err)
	}
	head, err := audit.ParseChainHead(rep.Head)
	if err != nil || head.Seq == 0 {
		return audit.ChainHead{}, fmt.Errorf("export %s holds no entry to anchor", export)
	}
	return head, nil
}
