package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/dstt/dstt/testnet"
)

// newTestnetNetnsCmd is `testnet netns up|down`: the network namespaces of a testnet
// generated with --subnet.
func newTestnetNetnsCmd(g *globals) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "netns up|down",
		Short: "Create (up) or delete (down) the network namespaces of a testnet made with --subnet",
		Long: `A testnet generated with --subnet SUBNET gives node i the address SUBNET.i in a
network namespace of its own. "up" creates, as root, each node's namespace, a
veth pair per node and a bridge joining them, on which this host is SUBNET.254
(so the CLI and the scripts reach every node); "down" deletes them. Each node
then runs with "ip netns exec NAMESPACE dstt start ..." (testnet/up.sh does),
and a fault such as a network partition is an nftables rule inside a node's
namespace. Needs ip (iproute2) and nft (nftables).`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"up", "down"},
		RunE: func(_ *cobra.Command, args []string) error {
			nw, err := testnet.Load(dir)
			if err != nil {
				return err
			}
			switch args[0] {
			case "up":
				err = testnet.SetupNetns(nw)
			case "down":
				err = testnet.TeardownNetns(nw)
			default:
				return usageErr("testnet netns %q: want up or down", args[0])
			}
			if err != nil {
				return err
			}
			return g.print(map[string]string{"netns": args[0], "subnet": nw.Subnet}, func(w io.Writer) {
				fmt.Fprintf(w, "network namespaces %s: %d nodes on %s.0/24 (this host %s)\n", args[0], len(nw.Nodes), nw.Subnet, nw.HostAddress())
			})
		},
	}
	cmd.Flags().StringVar(&dir, "dir", testnet.DefaultDir, "the testnet's directory")
	return cmd
}
