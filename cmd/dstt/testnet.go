package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/dstt/dstt/consensus"
	"github.com/dstt/dstt/security/keyring"
	"github.com/dstt/dstt/testnet"
)

func newTestnetCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "testnet",
		Short: "Generate and inspect a local multi-validator network",
		Long: `Generate a local network of N validators, one per organisation, each an
ordinary dstt home (dstt start --home DIR/nodeI runs it). The scripts in the
repository's testnet/ directory start, stop, kill and restart its nodes; see
docs/TESTNET.md.`,
	}
	cmd.AddCommand(newTestnetInitCmd(g), newTestnetAddNodeCmd(g), newTestnetStatusCmd(g), newTestnetNetnsCmd(g))
	return cmd
}

func newTestnetInitCmd(g *globals) *cobra.Command {
	var o testnet.Options
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write N node homes sharing one genesis, wired as peers",
		Long: `Write DIR/node1..nodeN: N validators (equal power) in one genesis, each on its
own loopback ports (node i: P2P BASE+10(i-1), RPC that +1, Prometheus that +2,
REST gateway that +3, the gateway's metrics that +4), each listing all the others
as persistent peers on the chosen transport. DIR/testnet.json gives each node's
addresses and its start command (dstt start --home DIR/nodeI --rest-laddr ...
--rest-metrics-laddr ...), which testnet/up.sh runs.

Node i belongs to organisation org i, whose admin is the home's test-keyring
key "dev" (UNENCRYPTED: a testnet only); every "dev" key is also a genesis
admin. Governance needs admins of k distinct orgs: by default a majority of
the member orgs at the time (genesis threshold 0, so k follows the consortium
as orgs join and leave); --threshold K fixes k in genesis.
Each home's client.json points the CLI at that node, so

  dstt --home DIR/node2 tx put greeting hello

signs with org2's admin key and submits to node2. The transport is CometBFT's
TCP p2p (default) or its experimental go-libp2p transport (QUIC over UDP on
the P2P port). DIR/testnet.json describes the network.`,
		Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			nw, err := testnet.Generate(o)
			if err != nil {
				return err
			}
			for _, n := range nw.Nodes {
				cc := clientConfig{Node: n.RPC, KeyringBackend: keyring.BackendTest, From: devKeyName}
				if err := saveClientConfig(n.Home, cc); err != nil {
					return err
				}
			}
			if w := testnet.PortWarning(nw.BasePort, len(nw.Nodes)); w != "" {
				fmt.Fprintln(g.stderr, "warning:", w)
			}
			return g.print(nw, func(w io.Writer) { printTestnetInit(w, nw) })
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Validators, "validators", testnet.DefaultValidators, "number of validators (and organisations)")
	f.StringVar(&o.Dir, "dir", testnet.DefaultDir, "directory for the node homes")
	f.StringVar(&o.Transport, "transport", consensus.TransportTCP, "p2p transport: tcp or libp2p (experimental, QUIC)")
	f.StringVar(&o.ChainID, "chain-id", testnet.DefaultChainID, "chain id")
	f.IntVar(&o.BasePort, "base-port", 0, fmt.Sprintf("node1's P2P port; node i uses BASE+10(i-1) .. +4 (default %d, or off this host's ephemeral port range if that covers it)", testnet.DefaultBasePort))
	f.IntVar(&o.Threshold, "threshold", 0, "fix k, the orgs whose admins must sign a governance tx (default 0: a majority of the member orgs at the time)")
	f.Uint64Var(&o.SnapshotInterval, "snapshot-interval", 0, "chain param snapshot_interval: a verifiable state snapshot every N heights, for backups (dstt snapshot) and nodes that join by state sync (testnet add-node --state-sync); 0: none")
	f.StringVar(&o.Subnet, "subnet", "", "place each node in a network namespace of its own with address SUBNET.i (e.g. 10.77.3; as root: dstt testnet netns up creates them)")
	f.BoolVar(&o.Overwrite, "overwrite", false, "replace a testnet in DIR: new keys, genesis and config; DELETES its chain data; keeps the keyrings")
	return cmd
}

// printTestnetInit is what `testnet init` prints: the network and every
// node's addresses, P2P as its transport speaks it.
func printTestnetInit(w io.Writer, nw *testnet.Network) {
	k := fmt.Sprintf("k = %d of the %d orgs (fixed)", nw.Threshold, len(nw.Nodes))
	if nw.Threshold == 0 {
		k = fmt.Sprintf("k = a majority of the member orgs (now %d of %d)", testnet.MajorityOf(len(nw.Nodes)), len(nw.Nodes))
	}
	transport := "tcp"
	if nw.Transport == consensus.TransportLibP2P {
		transport = "libp2p (QUIC over UDP)"
	}
	fmt.Fprintf(w, "testnet %q in %s: %d validators, transport %s, governance %s\n\n",
		nw.ChainID, nw.Dir, len(nw.Nodes), transport, k)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tORG\tP2P\tRPC\tREST\tADMIN (key \"dev\")")
	for _, n := range nw.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", n.Name, n.Org, n.P2PAddr, n.RPC, n.RESTURL(), n.AdminAddress)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nstart one: %s\nor all:    testnet/up.sh (see docs/TESTNET.md)\n", nw.Nodes[0].Start)
}

func newTestnetAddNodeCmd(g *globals) *cobra.Command {
	var dir string
	var o testnet.AddNodeOptions
	cmd := &cobra.Command{
		Use:   "add-node",
		Short: "Add a full node for a new organisation to the testnet",
		Long: `Add DIR/nodeK (K: one more than the nodes so far) with the next ports, fresh
keys, the chain's genesis, every existing node as a peer, and a test-keyring
key "dev" for its organisation (default orgK). Started (testnet/up.sh or
dstt start --home DIR/nodeK), it syncs the chain as a full node. It becomes a
validator only when a governance tx signed by k org admins adds its org and its
validator key (docs/TESTNET.md, "Onboarding an organisation").`,
		Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			nw, n, err := testnet.AddNode(dir, o)
			if err != nil {
				return err
			}
			if w := testnet.PortWarning(nw.BasePort, len(nw.Nodes)); w != "" {
				fmt.Fprintln(g.stderr, "warning:", w)
			}
			cc := clientConfig{Node: n.RPC, KeyringBackend: keyring.BackendTest, From: devKeyName}
			if err := saveClientConfig(n.Home, cc); err != nil {
				return err
			}
			return g.print(n, func(w io.Writer) {
				fmt.Fprintf(w, "added %s (%s, full node) at %s\n  p2p %s, rpc %s, rest %s\n  validator key %s\n  admin (key \"dev\") %s\n  start: %s\n",
					n.Name, n.Org, n.Home, n.P2PAddr, n.RPC, n.RESTURL(), n.ValidatorPubKey, n.AdminAddress, n.Start)
			})
		},
	}
	cmd.Flags().StringVar(&dir, "dir", testnet.DefaultDir, "the testnet's directory")
	cmd.Flags().StringVar(&o.Org, "org", "", "the new node's organisation (default orgK)")
	cmd.Flags().BoolVar(&o.StateSync, "state-sync", false, "join by state sync from the running chain's snapshots (chain param snapshot_interval) instead of replaying every block")
	return cmd
}

func newTestnetStatusCmd(g *globals) *cobra.Command {
	var dir string
	var timeout, wait, stallAfter time.Duration
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Height, app hash, peers of every node; quorum; fork and halt check",
		Long: `Ask every node of the testnet in DIR for its status (RPC /status, /net_info
and its mempool) and report its process (from the pid file the testnet scripts
keep, or, for a node started another way, from its RPC, its REST gateway's
/healthz or its ports answering), REST gateway, height, app hash, peers,
voting power and state; then compare the block hash at the lowest height all
answering nodes have (a mismatch is a fork).

The quorum line sums the voting power of the validators whose node answers
and is not catching up, against the validator set that signs the next block:
blocks commit only while that is more than 2/3. It also gives the highest
height, how long ago it was committed (the median time of its precommits)
and the txs waiting in the mempools. The chain is HALTED when no node answers, when
the power online is not more than 2/3, or when txs wait, no block has come
for longer than --stall-after, and none comes in another --stall-after of
watching (with create_empty_blocks off, an idle chain makes no blocks, so
only waiting txs make an old height a halt; the watching spares a chain
that has just got its quorum back).

Exit status: 1 on a fork, on a halt (after printing the status), or when
--wait runs out; 0 otherwise.

With --wait D it first waits, up to D, until every node that runs (by its pid
file) or answers is ready: RPC answering, at least one peer, not catching up,
and at the height the chain had when the wait began (block 1 or later).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			nw, err := testnet.Load(dir)
			if err != nil {
				return err
			}
			var waitErr error
			if wait > 0 {
				wctx, wcancel := context.WithTimeout(cmd.Context(), wait)
				waitErr = testnet.WaitReady(wctx, nw)
				wcancel()
			}
			// A chain that looks stalled is watched for up to stallAfter more.
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout+stallAfter)
			defer cancel()
			var r testnetReport
			r.statuses, r.quorum, r.quorumErr = testnet.Observe(ctx, nw, stallAfter)
			r.common, r.agreeErr = testnet.Agreement(ctx, nw, r.statuses)
			if err := g.print(r.json(nw), func(w io.Writer) { r.print(w) }); err != nil {
				return err
			}
			switch {
			case r.agreeErr != nil:
				return r.agreeErr
			case r.quorumErr == nil && r.quorum.Halted:
				return fmt.Errorf("%w: %s", testnet.ErrHalted, r.quorum.Reason)
			}
			return waitErr
		},
	}
	cmd.Flags().StringVar(&dir, "dir", testnet.DefaultDir, "the testnet's directory")
	cmd.Flags().DurationVar(&wait, "wait", 0, "first wait up to this long until every running node has caught up")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for the nodes")
	cmd.Flags().DurationVar(&stallAfter, "stall-after", testnet.DefaultStallAfter, "call the chain halted when txs wait and no block has come for this long")
	return cmd
}

// testnetReport is what `testnet status` found.
type testnetReport struct {
	statuses  []testnet.NodeStatus
	common    int64 // the height whose block every answering node has
	agreeErr  error // a fork at common
	quorum    testnet.Quorum
	quorumErr error // the quorum could not be read
}

func (r testnetReport) json(nw *testnet.Network) map[string]any {
	out := map[string]any{"chain_id": nw.ChainID, "nodes": r.statuses, "common_height": r.common, "agree": r.agreeErr == nil}
	if r.agreeErr != nil {
		out["disagreement"] = r.agreeErr.Error()
	}
	if r.quorumErr != nil {
		out["quorum_error"] = r.quorumErr.Error()
	} else {
		out["quorum"] = r.quorum
		out["halted"] = r.quorum.Halted
	}
	return out
}

// print is the table `testnet status` prints: one row per node, whether
// the answering nodes agree on block common, and the quorum line.
func (r testnetReport) print(w io.Writer) {
	halted := r.quorumErr == nil && r.quorum.Halted
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tORG\tPROCESS\tREST\tHEIGHT\tAPP HASH\tPEERS\tPOWER\tSTATE")
	for _, s := range r.statuses {
		proc := statusProcess(s) + "\t" + statusREST(s)
		if !s.Reachable() {
			fmt.Fprintf(tw, "%s\t%s\t%s\t-\t-\t-\t-\tunreachable: %s\n", s.Name, s.Org, proc, s.Error)
			continue
		}
		state := "ok"
		switch {
		case s.CatchingUp:
			state = "catching up"
		case halted:
			state = "halted"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\t%d\t%s\n", s.Name, s.Org, proc, s.Height, shortHash(s.AppHash), s.Peers, s.Power, state)
	}
	tw.Flush()
	switch {
	case r.agreeErr != nil:
		fmt.Fprintf(w, "FORK: %v\n", r.agreeErr)
	case r.common > 0:
		fmt.Fprintf(w, "all answering nodes agree on block %d\n", r.common)
	}
	fmt.Fprintln(w, quorumLine(r.quorum, r.quorumErr))
	if halted {
		fmt.Fprintf(w, "HALTED: %s\n", r.quorum.Reason)
	}
}

// quorumLine is the voting power online against the validator set, whether
// that is more than 2/3, the latest height and its age.
func quorumLine(q testnet.Quorum, err error) string {
	switch {
	case err != nil:
		return "quorum: unknown: " + err.Error()
	case q.Validators == 0 && q.Halted:
		return "quorum: unknown: " + q.Reason
	case q.Validators == 0:
		return "quorum: unknown: no block yet"
	}
	more := "yes"
	if !q.HasQuorum {
		more = "NO"
	}
	age := "unknown"
	if !q.CommitTime.IsZero() {
		d := time.Duration(q.AgeSeconds * float64(time.Second))
		if d >= time.Minute {
			d = d.Round(time.Second)
		}
		age = d.String() + " ago"
	}
	return fmt.Sprintf("quorum: %d of %d voting power online (%d of %d validators), more than 2/3 (%d): %s; height %d committed %s; %d txs pending",
		q.OnlinePower, q.TotalPower, q.Online, q.Validators, q.Needed(), more, q.Height, age, q.PendingTxs)
}

// statusProcess is a node's PROCESS column: how it runs and how it was found.
func statusProcess(s testnet.NodeStatus) string {
	switch {
	case s.PID > 0:
		return fmt.Sprintf("%s (%d)", s.Process, s.PID)
	case s.DetectedBy != "":
		return fmt.Sprintf("%s (no pid file; %s answers)", s.Process, s.DetectedBy)
	}
	return s.Process
}

// statusREST is a node's REST column.
func statusREST(s testnet.NodeStatus) string {
	switch {
	case s.REST == "":
		return "-"
	case s.RESTUp:
		return s.REST
	}
	return s.REST + " (down)"
}

func shortHash(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return h
}
