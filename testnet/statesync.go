package testnet

import (
	"context"
	"time"

	"github.com/dstt/dstt/consensus"
)

// enableStateSync configures the new node n to join by state sync: the
// first two nodes' RPC as the light client's servers, and the latest
// header of node1 (which must be running) as the trusted one.
func enableStateSync(nw *Network, n Node) error {
	var servers []string
	for _, m := range nw.Nodes[:min(2, len(nw.Nodes))] {
		servers = append(servers, m.RPC)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	height, hash, err := consensus.TrustPoint(ctx, nw.Nodes[0].RPC)
	if err != nil {
		return err
	}
	h, err := consensus.OpenHome(n.Home)
	if err != nil {
		return err
	}
	return h.EnableStateSync(servers, height, hash)
}
