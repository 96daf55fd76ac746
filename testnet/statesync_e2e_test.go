package testnet_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dstt/dstt/abci"
	"github.com/dstt/dstt/consensus"
	"github.com/dstt/dstt/testnet"
)

// TestAddNodeByStateSync: a node added to a running 4-validator chain with
// `dstt testnet add-node --state-sync` restores a snapshot the validators
// took (its block store starts above height 1: it did not replay), then
// fetches the blocks after the snapshot by block sync (not consensus: the
// restart after the restore, consensus.Node.SyncState) and follows the
// chain by consensus; it agrees with the others
// on every block it holds (app hash and audit head), reads what was written
// before the snapshot, and logs no failed read of the blocks below its store.
// (The timing against replay at 20,000 heights is bench/statesync.sh.)
func TestAddNodeByStateSync(t *testing.T) {
	c := newCluster(t, "tcp", 4, "--snapshot-interval", "20") // the join below adds blocks: no newer snapshot meanwhile
	c.startAll(t)
	node1 := c.node(t, "node1").Home
	home1, err := consensus.OpenHome(node1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		if out, errs, code := c.cli(t, "--home", node1, "tx", "put", fmt.Sprint("k", i), fmt.Sprint("v", i)); code != 0 {
			t.Fatalf("tx put: exit %d %s %s", code, out, errs)
		}
	}
	// enableStateSync trusts the newest snapshot with two blocks above it;
	// five make block sync fetch some after the restore. The chain makes
	// no empty blocks, so txs make them.
	var snap int64
	waitUntil(t, 60*time.Second, "a snapshot on node1 with five blocks above it", func() (bool, string) {
		hs, _ := abci.SnapshotHeights(filepath.Join(home1.DataDir(), "snapshots"))
		top := c.heights("node1")["node1"]
		if len(hs) > 0 && int64(hs[len(hs)-1])+5 <= top {
			snap = int64(hs[len(hs)-1])
			return true, ""
		}
		c.cli(t, "--home", node1, "tx", "put", "more", fmt.Sprint(top))
		return false, fmt.Sprintf("snapshots %v, height %d", hs, top)
	})

	n5 := c.addNode(t, "--state-sync")
	c.registerNode(t, n5.NodeID, "org1", node1, "node1") // a node run by org1: members admit it
	c.start(t, n5.Name, "--comet-log-level", "info")     // block sync's switch to consensus, checked below
	c.waitReady(t, 120*time.Second, n5.Name)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := c.rpc(t, n5.Name).Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	base := st.SyncInfo.EarliestBlockHeight
	if base <= 1 {
		t.Fatalf("%s's block store starts at %d: it replayed the chain instead of restoring a snapshot", n5.Name, base)
	}
	if out, errs, code := c.cli(t, "--home", node1, "tx", "put", "after", "join"); code != 0 {
		t.Fatalf("tx put after the join: exit %d %s %s", code, out, errs)
	}
	top := c.checkAgreementFrom(t, base, c.names()...)
	t.Logf("%s joined by state sync: its store starts at %d, agrees with the others up to %d", n5.Name, base, top)
	for _, kv := range [][2]string{{"k0", "v0"}, {"k11", "v11"}, {"after", "join"}} {
		gw := "http://" + n5.REST
		if out, errs, code := c.cli(t, "--home", node1, "--node", gw, "query", "get", kv[0]); code != 0 || !strings.Contains(out, kv[0]+" = "+kv[1]) {
			t.Fatalf("%s reads %s: exit %d %q %s", n5.Name, kv[0], code, out, errs)
		}
	}
	log, err := os.ReadFile(filepath.Join(n5.Home, testnet.LogFile))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(log), "cannot read a missed block"); n > 0 {
		t.Fatalf("%s logged %d failed reads of blocks below its store", n5.Name, n)
	}
	checkBlockSyncAfterRestore(t, string(log), snap)
}

// checkBlockSyncAfterRestore: the node's log says it restored the state at
// snap and then applied blocks by block sync: its switch to consensus came
// at a height above snap+1 (at snap+1 block sync had applied none).
func checkBlockSyncAfterRestore(t *testing.T, log string, snap int64) {
	t.Helper()
	for _, want := range []string{
		fmt.Sprintf("restored the chain's state at height %d;", snap), // dstt start, between the two nodes
		"restore finished: marked the restored height for block sync", // the second node (chainstate.MarkRestored)
	} {
		if !strings.Contains(log, want) {
			t.Fatalf("the log lacks %q", want)
		}
	}
	m := regexp.MustCompile(`Time to switch to consensus mode!.* height=(\d+)`).FindStringSubmatch(log)
	if m == nil {
		t.Fatal("the log lacks block sync's switch to consensus")
	}
	if h, _ := strconv.ParseInt(m[1], 10, 64); h <= snap+1 {
		t.Fatalf("block sync switched to consensus at height %d, snapshot %d: it applied no block", h, snap)
	}
}

// TestAddNodeFromPeerBackup: a new member's node joins from a backup another
// org's node exported while it ran (the offline way in, where state sync
// cannot reach the peers): import refuses the file until the operator names
// the exporting node, then rebuilds the fresh home at the snapshot height,
// and the node catches up by block sync and agrees with the others.
func TestAddNodeFromPeerBackup(t *testing.T) {
	c := newCluster(t, "tcp", 4, "--snapshot-interval", "3")
	c.startAll(t)
	n1 := c.node(t, "node1")
	for i := range 8 {
		if out, errs, code := c.cli(t, "--home", n1.Home, "tx", "put", fmt.Sprint("k", i), fmt.Sprint("v", i)); code != 0 {
			t.Fatalf("tx put: exit %d %s %s", code, out, errs)
		}
	}
	out, errs, code := c.cli(t, "--home", n1.Home, "snapshot", "list", "-o", "json")
	var list []struct {
		Height uint64 `json:"height"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) == 0 {
		t.Fatalf("snapshot list on node1: exit %d %q %s", code, out, errs)
	}
	h := list[len(list)-1].Height
	backup := filepath.Join(t.TempDir(), "node1.backup")
	if out, errs, code := c.cli(t, "--home", n1.Home, "snapshot", "export", fmt.Sprint(h), backup); code != 0 {
		t.Fatalf("snapshot export on the running node1: exit %d %s %s", code, out, errs)
	}

	n5 := c.addNode(t)
	c.registerNode(t, n5.NodeID, "org1", n1.Home, "node1")
	_, errs, code = c.cli(t, "--home", n5.Home, "snapshot", "import", backup)
	if code != 7 || !strings.Contains(errs, "--exporter "+n1.NodeID) {
		t.Fatalf("import of node1's backup without --exporter: exit %d %q; want 7 and the hint", code, errs)
	}
	if _, errs, code := c.cli(t, "--home", n5.Home, "snapshot", "import", backup, "--exporter", n5.NodeID); code != 7 || !strings.Contains(errs, "not "+n5.NodeID) {
		t.Fatalf("import naming the wrong exporter: exit %d %q", code, errs)
	}
	if out, errs, code := c.cli(t, "--home", n5.Home, "snapshot", "import", backup, "--exporter", n1.NodeID); code != 0 || !strings.Contains(out, "imported snapshot of height") {
		t.Fatalf("import --exporter node1: exit %d %q %s", code, out, errs)
	}
	c.start(t, n5.Name)
	c.waitReady(t, 120*time.Second, n5.Name)
	if out, errs, code := c.cli(t, "--home", n1.Home, "tx", "put", "after", "join"); code != 0 {
		t.Fatalf("tx put after the join: exit %d %s %s", code, out, errs)
	}
	top := c.checkAgreementFrom(t, int64(h)+1, c.names()...)
	t.Logf("%s restored node1's backup of height %d and agrees with the others up to %d", n5.Name, h, top)
	gw := "http://" + n5.REST
	for _, kv := range [][2]string{{"k0", "v0"}, {"after", "join"}} {
		if out, errs, code := c.cli(t, "--home", n1.Home, "--node", gw, "query", "get", kv[0]); code != 0 || !strings.Contains(out, kv[0]+" = "+kv[1]) {
			t.Fatalf("%s reads %s: exit %d %q %s", n5.Name, kv[0], code, out, errs)
		}
	}
}
