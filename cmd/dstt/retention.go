package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dstt/dstt/types"
)

// newGovSetRetentionCmd is `dstt gov propose set-retention`: a proposal of
// the governance op SetRetention (docs/OPERATIONS.md).
func newGovSetRetentionCmd(g *globals, f *proposeFlags) *cobra.Command {
	var heights, seconds uint64
	cmd := &cobra.Command{
		Use:   "set-retention --heights N --seconds S",
		Short: "Propose the retention rule: keep old versions for the last N heights and/or S seconds of block time (0 and 0: keep all)",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			return g.writeProposal(f, fmt.Sprintf("set retention to the last %d heights, %d seconds (0: not by this rule)", heights, seconds),
				types.Op{Sum: &types.Op_SetRetention{SetRetention: &types.SetRetention{RetainHeights: heights, RetainSeconds: seconds}}})
		},
	}
	cmd.Flags().Uint64Var(&heights, "heights", 0, "keep old versions for the last N heights (0: not by heights)")
	cmd.Flags().Uint64Var(&seconds, "seconds", 0, "keep old versions for the last S seconds of block time (0: not by time)")
	return cmd
}
