package testnet

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/dstt/dstt/consensus"
)

// AddNodeOptions configures AddNode. Zero values take the defaults.
type AddNodeOptions struct {
	// Org names the organisation the node and its "dev" key stand for; default
	// "orgK" for node K. The chain learns of it only through governance.
	Org string
	// SkipPortCheck skips checking that the node's ports are free now.
	SkipPortCheck bool
	// StateSync makes the node join by state sync (statesync.go): the
	// chain must be running.
	StateSync bool
}

// AddNode adds a node to the testnet in dir: home DIR/nodeK (K = one more than the
// nodes so far), the next ports, fresh keys and a "dev" key, the chain's genesis (from
// node1's home) and every existing node as a peer. It is a full node of the running
// chain, not a validator: governance (k-of-n org admins) must add its org and its
// validator key. The existing nodes need no change: it dials them. The manifest is
// updated.
func AddNode(dir string, opts AddNodeOptions) (*Network, Node, error) {
	nw, err := Load(dir)
	if err != nil {
		return nil, Node{}, err
	}
	if len(nw.Nodes) == 0 || nw.BasePort == 0 {
		return nil, Node{}, fmt.Errorf("%w: %s lists no nodes or no base port", ErrNotFound, filepath.Join(nw.Dir, ManifestFile))
	}
	k := len(nw.Nodes) + 1
	name := fmt.Sprintf("node%d", k)
	if opts.Org == "" {
		opts.Org = fmt.Sprintf("org%d", k)
	}
	base := nw.BasePort + PortsPerNode*(k-1)
	if base+portsUsed-1 > 65535 {
		return nil, Node{}, fmt.Errorf("%w: no ports left above %d for %s", ErrInvalidOptions, nw.BasePort, name)
	}
	home := filepath.Join(nw.Dir, name)
	if _, err := os.Stat(home); err == nil {
		return nil, Node{}, fmt.Errorf("%w: %s exists but the manifest does not list it", ErrExists, home)
	}
	if !opts.SkipPortCheck {
		if err := checkPorts(Options{Validators: 1, BasePort: base, Transport: nw.Transport}); err != nil {
			return nil, Node{}, err
		}
	}
	first, err := consensus.OpenHome(nw.Nodes[0].Home)
	if err != nil {
		return nil, Node{}, err
	}
	gen, err := first.Genesis()
	if err != nil {
		return nil, Node{}, err
	}
	var peers []consensus.Peer
	for _, m := range nw.Nodes {
		h, err := consensus.OpenHome(m.Home)
		if err != nil {
			return nil, Node{}, err
		}
		p, err := h.AsPeer()
		if err != nil {
			return nil, Node{}, err
		}
		peers = append(peers, p)
	}
	keys := consensus.GenerateNodeKeys()
	n, err := newNode(name, opts.Org, home, base, keys)
	if err != nil {
		return nil, Node{}, err
	}
	nw.placeNode(&n, k)
	if err := initHome(n, gen, &keys, nw.Transport, peers); err != nil {
		return nil, Node{}, err
	}
	if opts.StateSync {
		if err := enableStateSync(nw, n); err != nil {
			return nil, Node{}, err
		}
	}
	nw.Nodes = append(nw.Nodes, n)
	if err := nw.save(); err != nil {
		return nil, Node{}, err
	}
	return nw, nw.Nodes[len(nw.Nodes)-1], nil // with its derived fields
}
