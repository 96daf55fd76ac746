package testnet_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cmtjson "github.com/cometbft/cometbft/libs/json"
	"github.com/cometbft/cometbft/privval"

	"github.com/dstt/dstt/consensus"
)

// TestRestoreValidatorFromBackup: on a 4-validator chain whose genesis
// sets snapshot_interval, node4 is stopped, exports a backup, and loses
// its whole data directory (config and keys kept, priv_validator_state
// lost with the disk). The chain goes on without it. A tampered backup is
// refused at import; the good one is imported (the app and CometBFT at the
// snapshot height with its app hash; the signer state created above it),
// node4 starts, catches up with the others by block sync, agrees with them
// on every block, app hash and audit head, and signs commits again.
func TestRestoreValidatorFromBackup(t *testing.T) {
	c := newCluster(t, "tcp", 4, "--snapshot-interval", "3")
	c.startAll(t)
	node1, node4 := c.node(t, "node1").Home, c.node(t, "node4")
	put := func(k, v string) {
		t.Helper()
		if out, errs, code := c.cli(t, "--home", node1, "tx", "put", k, v); code != 0 {
			t.Fatalf("tx put %s: exit %d %s %s", k, code, out, errs)
		}
	}
	for i := range 5 {
		put(fmt.Sprint("k", i), fmt.Sprint("v", i))
	}
	waitUntil(t, 60*time.Second, "node4 at node1's height", func() (bool, string) {
		hs := c.heights("node1", "node4")
		return hs["node4"] >= hs["node1"], fmt.Sprint(hs)
	})
	c.stop(t, "node4")

	out, errs, code := c.cli(t, "--home", node4.Home, "snapshot", "create", "-o", "json")
	if code != 0 {
		t.Fatalf("snapshot create on node4: %s %s", out, errs)
	}
	var snap struct {
		Height    uint64 `json:"height"`
		AppHash   string `json:"app_hash"`
		AuditHead string `json:"audit_head"`
	}
	if err := json.Unmarshal([]byte(out), &snap); err != nil || snap.Height == 0 {
		t.Fatalf("snapshot create: %q (%v)", out, err)
	}
	backup := filepath.Join(t.TempDir(), "node4.backup")
	if out, errs, code := c.cli(t, "--home", node4.Home, "snapshot", "export", fmt.Sprint(snap.Height), backup); code != 0 {
		t.Fatalf("snapshot export: %s %s", out, errs)
	}
	home, err := consensus.OpenHome(node4.Home)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(home.DataDir()); err != nil { // the disk is lost
		t.Fatal(err)
	}
	for i := 5; i < 10; i++ { // the chain goes on without node4
		put(fmt.Sprint("k", i), fmt.Sprint("v", i))
	}

	b, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), b...)
	bad[len(bad)/2] ^= 1
	tampered := filepath.Join(t.TempDir(), "tampered.backup")
	if err := os.WriteFile(tampered, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := c.cli(t, "--home", node4.Home, "snapshot", "import", tampered); code != 7 || !strings.Contains(errs, "snapshot refused") {
		t.Fatalf("tampered import: exit %d %q; want 7 and the reason", code, errs)
	}
	if _, err := os.Stat(home.DataDir()); !os.IsNotExist(err) {
		t.Fatalf("a refused import wrote %s (%v)", home.DataDir(), err)
	}
	out, errs, code = c.cli(t, "--home", node4.Home, "snapshot", "import", backup)
	if code != 0 || !strings.Contains(out, "imported snapshot of height") {
		t.Fatalf("import: exit %d %q %q", code, out, errs)
	}
	checkSignerFloor(t, home, int64(snap.Height)+2)
	h, appHash, err := consensus.CommittedAppHash(home)
	if err != nil || uint64(h) != snap.Height || fmt.Sprintf("%X", appHash) != snap.AppHash {
		t.Fatalf("restored CometBFT state: height %d app hash %X (%v); the snapshot: %d %s", h, appHash, err, snap.Height, snap.AppHash)
	}

	c.start(t, "node4")
	c.waitReady(t, 120*time.Second, "node4")
	put("after", "restore")
	names := c.names()
	// One chain from H+1 on (node4 holds no block below it), one app hash
	// and audit head on all four.
	top := c.checkAgreementFrom(t, int64(snap.Height)+1, names...)
	if top <= int64(snap.Height)+2 {
		t.Fatalf("the chain did not move past the snapshot height %d: %d", snap.Height, top)
	}
	// node4 validates again: it signs a commit after it came back.
	addr4 := valAddress(t, node4.ValidatorPubKey)
	h0 := top
	waitUntil(t, 60*time.Second, "node4 signing commits", func() (bool, string) {
		put(fmt.Sprint("sig", time.Now().UnixNano()), "x")
		hmax := maxHeight(c.heights("node1"))
		for x := h0; x < hmax; x++ {
			if c.signedBy(t, "node1", x, addr4) {
				return true, ""
			}
		}
		return false, fmt.Sprintf("no signature of node4 in commits %d..%d", h0, hmax-1)
	})
	if out, errs, code := c.cli(t, "--home", c.node(t, "node4").Home, "query", "get", "k9"); code != 0 || !strings.Contains(out, "k9 = v9") {
		t.Fatalf("node4 reads a key written while it was down: %q %s", out, errs)
	}
}

// checkSignerFloor: the signer state import created forbids signing at
// any height below floor.
func checkSignerFloor(t *testing.T, home *consensus.Home, floor int64) {
	t.Helper()
	raw, err := os.ReadFile(home.PrivValidatorStateFile())
	if err != nil {
		t.Fatal(err)
	}
	var st privval.FilePVLastSignState
	if err := cmtjson.Unmarshal(raw, &st); err != nil || st.Height != floor || st.Round != 0 || st.Step != 0 {
		t.Fatalf("signer state after import: %s (%v); want height %d round 0 step 0", raw, err, floor)
	}
}

// stop stops one node cleanly (SIGTERM, SIGKILL after 15s) and waits for it.
func (c *cluster) stop(tb testing.TB, name string) {
	tb.Helper()
	c.mu.Lock()
	cmd := c.procs[name]
	delete(c.procs, name)
	delete(c.up, name)
	c.mu.Unlock()
	if cmd == nil {
		tb.Fatalf("stop %s: not running", name)
	}
	terminate(cmd)
}
