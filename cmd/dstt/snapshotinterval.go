package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/dstt/dstt/types"
)

// newGovSetSnapshotIntervalCmd is `dstt gov propose set-snapshot-interval`:
// a proposal of the governance op SetSnapshotInterval (docs/OPERATIONS.md).
func newGovSetSnapshotIntervalCmd(g *globals, f *proposeFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "set-snapshot-interval N",
		Short: "Propose the chain param snapshot_interval: a verifiable state snapshot every N heights (0 turns snapshots off)",
		Long: fmt.Sprintf(`Propose the chain param snapshot_interval. From the block after the one
that commits the proposal, the first block that writes state at least N
heights after the last snapshot height is a snapshot height: its app hash
covers the whole state, nodes with snapshots write it to their snapshot
directory (dstt snapshot create|export, backups) and offer it to nodes that
join by state sync. 0 turns snapshots off: no more snapshot heights, and
retention prunes past the last one again. N is at most %d.`, types.MaxSnapshotInterval),
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			n, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("snapshot interval %q: want a number of heights (0: off)", args[0])
			}
			op := &types.SetSnapshotInterval{SnapshotInterval: n}
			if c, msg := types.CheckSetSnapshotInterval(op); c != types.CodeOK {
				return fmt.Errorf("%s: %s", c.Name(), msg)
			}
			summary := fmt.Sprintf("set the snapshot interval to %d heights", n)
			if n == 0 {
				summary = "turn snapshots off (snapshot interval 0)"
			}
			return g.writeProposal(f, summary, types.Op{Sum: &types.Op_SetSnapshotInterval{SetSnapshotInterval: op}})
		},
	}
}
