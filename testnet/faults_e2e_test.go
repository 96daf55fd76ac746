package testnet_test

// Fault tests across a network of namespaces: each node in its own network namespace
// with its own address (testnet.SetupNetns), partitions made with nftables inside the
// namespaces (testnet.Cut, testnet.Heal), a concurrent-transfer workload whose
// invariants are asserted after each fault (transfer_test.go).

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/dstt/dstt/testnet"
)

// faultScale multiplies how many transfers each fault phase waits for: 1 in make
// test, 10 with DSTT_FAULTS_LONG set (make faults).
func faultScale() int {
	if os.Getenv("DSTT_FAULTS_LONG") != "" {
		return 10
	}
	return 1
}

// requireNetns skips without root, ip or nft, unless DSTT_REQUIRE_NETNS is set (make
// test sets it and installs nftables), where it fails instead.
func requireNetns(t *testing.T) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, bin := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin)
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("DSTT_REQUIRE_NETNS") != "" {
		t.Fatalf("network namespace tests need %s (make test-deps installs nftables and iproute2; run as root)", strings.Join(missing, ", "))
	}
	t.Skipf("network namespace tests need %s", strings.Join(missing, ", "))
}

// newNetnsCluster generates n validators, each in a namespace of its own on a random
// 10.x.y.0/24, creates the namespaces and deletes them when the test ends.
func newNetnsCluster(t *testing.T, n int) *cluster {
	t.Helper()
	requireNetns(t)
	subnet := fmt.Sprintf("10.%d.%d", 100+rand.IntN(100), rand.IntN(256))
	c := newCluster(t, "tcp", n, "--subnet", subnet)
	if err := testnet.SetupNetns(c.network()); err != nil {
		_ = testnet.TeardownNetns(c.network())
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.stopAll(t)
		if err := testnet.TeardownNetns(c.network()); err != nil {
			t.Error(err)
		}
	})
	return c
}

// cut partitions group a from group b (nftables in a's namespaces) and takes a's
// nodes out of the workload's rotation when a is the minority.
func (c *cluster) cut(t *testing.T, a, b []string) {
	t.Helper()
	for _, n := range a {
		if err := testnet.Cut(c.network(), n, b...); err != nil {
			t.Fatal(err)
		}
	}
}

func (c *cluster) heal(t *testing.T) {
	t.Helper()
	if err := testnet.Heal(c.network()); err != nil {
		t.Fatal(err)
	}
}

// setUp marks nodes as usable (or not) by the workloads.
func (c *cluster) setUp(up bool, names ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range names {
		if up {
			c.up[n] = true
		} else {
			delete(c.up, n)
		}
	}
}

func without(all []string, drop ...string) []string {
	var out []string
	for _, n := range all {
		if !strings.Contains(" "+strings.Join(drop, " ")+" ", " "+n+" ") {
			out = append(out, n)
		}
	}
	return out
}

// TestPartitions: on four validators in namespaces of their own, under concurrent
// transfers, (a) a partitioned minority: the majority keeps committing, the minority
// catches up after the heal; (b) a partition that leaves no side 2/3: no commits, no
// fork, progress resumes after the heal; (c) the proposer isolated: the others commit
// in a later round and it catches up. After each, the transfer invariants hold on all
// four nodes.
func TestPartitions(t *testing.T) {
	c := newNetnsCluster(t, 4)
	c.startAll(t)
	if !t.Run("minority", func(t *testing.T) { testIsolate(t, c, "node4", "m") }) {
		return
	}
	if !t.Run("no_two_thirds", func(t *testing.T) { testNoQuorumPartition(t, c) }) {
		return
	}
	t.Run("proposer_isolated", func(t *testing.T) { testIsolate(t, c, c.proposer(t), "p") })
}

// testIsolate cuts victim off from the others: they keep committing transfers and
// the victim's height stands still; after the heal it catches up; the invariants hold.
func testIsolate(t *testing.T, c *cluster, victim, prefix string) {
	tr := c.startTransfers(t, prefix, 4)
	waitUntil(t, 60*time.Second, "10 transfers before the cut", func() (bool, string) { return tr.count(nil) >= 10, tr.describe() })
	others := without(c.names(), victim)
	c.setUp(false, victim)
	c.cut(t, []string{victim}, others)
	cutAt := time.Now()
	hVictim := c.heights(victim)[victim]
	want := 20 * faultScale()
	waitUntil(t, time.Duration(want)*4*time.Second, fmt.Sprintf("%d transfers committed with %s cut off", want, victim), func() (bool, string) {
		return tr.count(func(a ack) bool { return a.sent.After(cutAt) }) >= want, tr.describe()
	})
	if h := c.heights(victim)[victim]; h > hVictim+1 {
		t.Fatalf("%s went from height %d to %d while cut off", victim, hVictim, h)
	}
	c.heal(t)
	healed := time.Now()
	target := maxHeight(c.heights(others...))
	waitUntil(t, 90*time.Second, fmt.Sprintf("%s back at height %d", victim, target), func() (bool, string) {
		h := c.heights(victim)[victim]
		return h >= target, fmt.Sprintf("%s at %d", victim, h)
	})
	t.Logf("%s cut off at height %d for %s; caught up to %d in %s after the heal", victim, hVictim,
		healed.Sub(cutAt).Round(time.Millisecond), target, time.Since(healed).Round(time.Millisecond))
	c.waitReady(t, 90*time.Second, victim)
	tr.checkInvariants(t, c.names()...)
}

// testNoQuorumPartition splits the four into two pairs: neither has more than 2/3, so
// no block commits and the sides do not diverge; after the heal the chain moves on.
func testNoQuorumPartition(t *testing.T, c *cluster) {
	tr := c.startTransfers(t, "q", 4)
	waitUntil(t, 60*time.Second, "10 transfers before the split", func() (bool, string) { return tr.count(nil) >= 10, tr.describe() })
	a, b := []string{"node1", "node2"}, []string{"node3", "node4"}
	c.cut(t, a, b)
	var h1 int64 = -2
	changed := time.Now()
	waitUntil(t, 20*time.Second, "all nodes settled", func() (bool, string) {
		hs := c.heights(c.names()...)
		top := maxHeight(hs)
		if top != h1 {
			h1, changed = top, time.Now()
		}
		return time.Since(changed) >= 2*time.Second, fmt.Sprint(hs)
	})
	holdsFor(t, time.Duration(5*faultScale())*time.Second, "no block without 2/3 on either side", func() (bool, string) {
		hs := c.heights(c.names()...)
		return maxHeight(hs) == h1, fmt.Sprintf("heights %v, stalled at %d", hs, h1)
	})
	if n := tr.count(func(x ack) bool { return x.height > h1 }); n > 0 {
		t.Fatalf("%d transfers acknowledged above the stalled height %d", n, h1)
	}
	// No fork: every node's blocks agree up to the lowest height.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	hs := c.heights(c.names()...)
	low := h1
	for _, h := range hs {
		low = min(low, h)
	}
	ref := blockHashes(t, ctx, c.rpc(t, "node1"), low)
	for _, n := range c.names()[1:] {
		got := blockHashes(t, ctx, c.rpc(t, n), low)
		for i := range ref {
			if got[i] != ref[i] {
				t.Fatalf("fork while split: block %d is %s on node1, %s on %s", i+1, ref[i], got[i], n)
			}
		}
	}
	t.Logf("split 2|2: stalled at height %d, no fork", h1)
	c.heal(t)
	healed := time.Now()
	waitUntil(t, 90*time.Second, "progress after the heal", func() (bool, string) {
		return tr.count(func(x ack) bool { return x.height > h1 }) >= 10, tr.describe()
	})
	t.Logf("progress resumed %s after the heal", time.Since(healed).Round(time.Millisecond))
	c.waitReady(t, 90*time.Second, c.names()...)
	tr.checkInvariants(t, c.names()...)
}

// proposer is the node proposing the height in progress, as node1's consensus state
// says.
func (c *cluster) proposer(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := c.rpc(t, "node1").ConsensusState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var rs struct {
		Proposer struct {
			Address string `json:"address"`
		} `json:"proposer"`
	}
	if err := json.Unmarshal(res.RoundState, &rs); err != nil {
		t.Fatalf("consensus state: %v", err)
	}
	for name, s := range c.statuses() {
		if strings.EqualFold(s.ValidatorAddress, rs.Proposer.Address) {
			return name
		}
	}
	t.Fatalf("no node has the proposer's address %s", rs.Proposer.Address)
	return ""
}
