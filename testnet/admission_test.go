package testnet_test

// Helpers for peer admission (filter_peers answered from the chain's registered
// nodes): register a node, and check that an outsider gets no block and that a removed
// node is dropped.

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// registerNode registers node id for org with the "dev" key (an admin of org) in the
// home keyHome, submitted through node via's REST gateway.
func (c *cluster) registerNode(tb testing.TB, id, org, keyHome, via string) {
	tb.Helper()
	gw := "http://" + c.node(tb, via).REST
	if out, errs, code := c.cli(tb, "--home", keyHome, "--node", gw, "node", "register", id, "--org", org); code != 0 {
		tb.Fatalf("node register %s --org %s: exit %d: %s %s", id, org, code, out, errs)
	}
}

// members are the names of the running nodes other than name.
func (c *cluster) members(name string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, n := range c.nw.Nodes {
		if _, running := c.procs[n.Name]; running && n.Name != name {
			out = append(out, n.Name)
		}
	}
	return out
}

// isolatedFor checks, while the other running nodes commit blocks more blocks, that no
// one lists node name as a peer and name's height stays at h (0 for a node that must
// never receive a block). It is an observation window whose end is an event: the
// others' progress.
func (c *cluster) isolatedFor(tb testing.TB, name string, h int64, blocks int64) {
	tb.Helper()
	id := c.node(tb, name).NodeID
	others := c.members(name)
	start := maxHeight(c.heights(others...))
	waitUntil(tb, 90*time.Second, fmt.Sprintf("%d blocks committed without %s", blocks, name), func() (bool, string) {
		st := c.statuses()
		s := st[name]
		if !s.Reachable() {
			tb.Fatalf("%s stopped answering: %s", name, s.Error)
		}
		if s.Height != h {
			tb.Fatalf("%s is at height %d, want it held at %d: it received blocks", name, s.Height, h)
		}
		top := int64(0)
		for _, o := range others {
			if slices.Contains(st[o].PeerIDs, id) {
				tb.Fatalf("%s lists %s (%s) as a peer", o, name, id)
			}
			top = max(top, st[o].Height)
		}
		return top >= start+blocks, fmt.Sprintf("others at %d, from %d", top, start)
	})
}

// checkOutsider: node name, of no member org, receives no block while the others
// commit blocks more.
func (c *cluster) checkOutsider(tb testing.TB, name string, blocks int64) {
	tb.Helper()
	waitUntil(tb, 60*time.Second, name+" answering", func() (bool, string) {
		s := c.statuses()[name]
		return s.Reachable(), s.Error
	})
	c.isolatedFor(tb, name, 0, blocks)
	tb.Logf("%s (no member's node) got no block while the others committed %d", name, blocks)
}

// checkDropped: once every other node has dropped node name (removed from the
// network), its height stands still while the others commit blocks more.
func (c *cluster) checkDropped(tb testing.TB, name string, blocks int64) {
	tb.Helper()
	id := c.node(tb, name).NodeID
	others := c.members(name)
	waitUntil(tb, 60*time.Second, "every node drops "+name, func() (bool, string) {
		st := c.statuses()
		var still []string
		for _, o := range others {
			if slices.Contains(st[o].PeerIDs, id) {
				still = append(still, o)
			}
		}
		return len(still) == 0 && st[name].Peers == 0, fmt.Sprintf("still peered: %s; %s has %d peers", strings.Join(still, ","), name, st[name].Peers)
	})
	c.mu.Lock()
	delete(c.up, name) // the load must not submit to it any more
	c.mu.Unlock()
	c.isolatedFor(tb, name, c.heights(name)[name], blocks)
	tb.Logf("%s dropped by every node; its height stood still while the others committed %d", name, blocks)
}
