package testnet

import (
	"context"
	"path/filepath"
	"time"

	"github.com/dstt/dstt/abci"
	"github.com/dstt/dstt/consensus"
)

// enableStateSync configures the new node n to join by state sync: the
// first two nodes' RPC as the light client's servers, and as the trusted
// header node1's (which must be running) at the newest snapshot height it
// keeps with two blocks above it (the light client verifies the snapshot
// height's next two headers), else its latest header. A trusted header at
// the snapshot height the node restores lets the light client check the
// headers it needs forward from it, a few RPC calls; one above it makes
// the light client fetch and check every header in between, backwards.
func enableStateSync(nw *Network, n Node) error {
	var servers []string
	for _, m := range nw.Nodes[:min(2, len(nw.Nodes))] {
		servers = append(servers, m.RPC)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	height, hash, err := consensus.TrustPoint(ctx, nw.Nodes[0].RPC, 0)
	if err != nil {
		return err
	}
	if s := newestSnapshot(nw.Nodes[0], height-2); s > 0 {
		if height, hash, err = consensus.TrustPoint(ctx, nw.Nodes[0].RPC, s); err != nil {
			return err
		}
	}
	h, err := consensus.OpenHome(n.Home)
	if err != nil {
		return err
	}
	return h.EnableStateSync(servers, height, hash)
}

// newestSnapshot is the newest height at or below most of the snapshot
// files node m keeps (0: none).
func newestSnapshot(m Node, most int64) int64 {
	h, err := consensus.OpenHome(m.Home)
	if err != nil {
		return 0
	}
	heights, _ := abci.SnapshotHeights(filepath.Join(h.DataDir(), "snapshots"))
	for i := len(heights) - 1; i >= 0; i-- {
		if int64(heights[i]) <= most {
			return int64(heights[i])
		}
	}
	return 0
}
