package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/dstt/dstt/consensus"
	"github.com/dstt/dstt/types"
)

func newNodeCmd(g *globals) *cobra.Command {
	f := &txFlags{}
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Peer admission: this node's ID, and the nodes each org registers",
		Long: `Only registered nodes may connect. Each member org registers the P2P node IDs
of its nodes (an admin of the org signs; --from); genesis may list them per
org. Every node answers CometBFT's peer filter (filter_peers, on by default)
from the chain's committed state: a node registered for no member org is
refused when it connects, and a node removed (or whose org is removed) is
dropped by every node at the next block. See docs/DEPLOY.md.

"node list" is a raw ABCI query, which only CometBFT's RPC serves (an
operator port): run it on the node's host, or pass --node tcp://HOST:PORT.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.from, "from", "", "signing key (default: the home's)")
	pf.DurationVar(&f.timeout, "timeout", 30*time.Second, "how long to wait for the node")
	f.validFor = 100
	var org string
	op := func(verb string, mk func(id, org string) types.Op) *cobra.Command {
		c := &cobra.Command{
			Use:   verb + " NODE_ID --org ORG",
			Short: map[string]string{"register": "Admit NODE_ID to the network as a node of ORG", "remove": "Take NODE_ID of ORG out of the network"}[verb],
			Args:  cobra.ExactArgs(1),
			RunE: func(_ *cobra.Command, args []string) error {
				return g.submit(f, []types.Op{mk(types.NormalizeNodeID(args[0]), org)})
			},
		}
		c.Flags().StringVar(&org, "org", "", "the member org the node belongs to")
		_ = c.MarkFlagRequired("org")
		return c
	}
	cmd.AddCommand(newNodeIDCmd(g),
		op("register", func(id, org string) types.Op {
			return types.Op{Sum: &types.Op_RegisterNode{RegisterNode: &types.RegisterNode{NodeId: id, Org: org}}}
		}),
		op("remove", func(id, org string) types.Op {
			return types.Op{Sum: &types.Op_RemoveNode{RemoveNode: &types.RemoveNode{NodeId: id, Org: org}}}
		}),
		newNodeListCmd(g, f))
	return cmd
}

func newNodeIDCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "id",
		Short: "Print this home's P2P node ID (what its org registers)",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			h, err := consensus.OpenHome(g.home)
			if err != nil {
				return err
			}
			id, err := h.NodeID()
			if err != nil {
				return err
			}
			return g.print(map[string]string{"node_id": id}, func(w io.Writer) { fmt.Fprintln(w, id) })
		},
	}
}

func newNodeListCmd(g *globals, f *txFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "Print the registered nodes and their orgs",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			var nodes []types.NodeView
			if err := g.rawQuery(f.from, types.QueryNodes, nil, &nodes); err != nil {
				return err
			}
			return g.print(nodes, func(w io.Writer) {
				fmt.Fprintf(w, "%-40s  %s\n", "NODE ID", "ORG")
				for _, n := range nodes {
					fmt.Fprintf(w, "%-40s  %s\n", n.ID, n.Org)
				}
			})
		},
	}
}
