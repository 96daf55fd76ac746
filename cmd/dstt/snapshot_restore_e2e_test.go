package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dstt/dstt/consensus"
)

// TestSnapshotRestoreWipedHome: a real one-validator node exports a backup
// while it runs, then loses its whole data directory (config and keys
// kept) and is rebuilt from the backup file alone: import restores the app state and CometBFT's state at the
// snapshot height (the app hash and audit head it had there), the node
// starts and goes on. Tampered, foreign-format and bare-snapshot files are
// refused at import with the reason, exit code 7, nothing written.
func TestSnapshotRestoreWipedHome(t *testing.T) {
	n := newDevNode(t)
	n.start()
	n.stop()
	newChainWithSnapshots(t, n.home)
	n.start()
	written := map[string]float64{} // key: the height of its block
	for i := range 6 {
		res, code := n.cliJSON("", "tx", "put", fmt.Sprint("k", i), fmt.Sprint("v", i, valueMark))
		if code != 0 {
			t.Fatalf("tx put: %v", res)
		}
		written[fmt.Sprint("k", i)] = res["height"].(float64)
	}
	snap, backup := exportRunning(t, n, written)
	n.stop()
	home, err := consensus.OpenHome(n.home)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	bare := filepath.Join(home.DataDir(), snapshotsDirName, fmt.Sprint(snap.Height, ".snap"))
	bareCopy := filepath.Join(t.TempDir(), "bare.snap")
	if raw, err := os.ReadFile(bare); err != nil || os.WriteFile(bareCopy, raw, 0o600) != nil {
		t.Fatalf("bare snapshot: %v", err)
	}

	// The disk is lost: all of data/, priv_validator_state.json with it.
	if err := os.RemoveAll(home.DataDir()); err != nil {
		t.Fatal(err)
	}
	refuseImports(t, n, home, b, bareCopy)
	checkTrustFlags(t, n, backup, b)

	// A sole validator must sign the heights after the snapshot again (its
	// blocks after it are gone with the disk): its operator gives it a
	// fresh signer state on purpose, and import keeps it as it is, with a
	// warning.
	fresh := []byte(`{"height":"0","round":0,"step":0}`)
	if err := os.MkdirAll(home.DataDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(home.PrivValidatorStateFile(), fresh, 0o600); err != nil {
		t.Fatal(err)
	}
	out, errs, code := n.cli("", "snapshot", "import", backup)
	if code != 0 || !strings.Contains(out, "imported snapshot") || !strings.Contains(errs, "double sign") {
		t.Fatalf("snapshot import: exit %d %q %q", code, out, errs)
	}
	if got, _ := os.ReadFile(home.PrivValidatorStateFile()); !bytes.Equal(got, fresh) {
		t.Fatalf("import changed the kept signer state: %s", got)
	}
	gotH, gotHash, gotHead := appState(t, home)
	if gotH != snap.Height || fmt.Sprintf("%X", gotHash) != snap.AppHash || gotHead != snap.AuditHead {
		t.Fatalf("restored app: height %d app hash %X audit head %s; the snapshot: %d %s %s", gotH, gotHash, gotHead, snap.Height, snap.AppHash, snap.AuditHead)
	}
	cometH, cometHash, err := consensus.CommittedAppHash(home)
	if err != nil || uint64(cometH) != snap.Height || fmt.Sprintf("%X", cometHash) != snap.AppHash {
		t.Fatalf("restored CometBFT state: height %d app hash %X (%v); want %d %s", cometH, cometHash, err, snap.Height, snap.AppHash)
	}
	// A second import finds the home restored and refuses to overwrite it.
	if _, errs, code := n.cli("", "snapshot", "import", backup); code == 0 || !strings.Contains(errs, "holds app state") {
		t.Fatalf("second import: exit %d %s", code, errs)
	}

	n.start()
	// What was written up to the snapshot height is back; the writes after
	// it were only on the lost disk (a sole validator has no peers).
	for key, h := range written {
		out, errs, code := n.cli("", "query", "get", key)
		if got := code == 0 && strings.Contains(out, key+" = v"); got != (uint64(h) <= snap.Height) {
			t.Fatalf("read %s (written at %v, snapshot %d) after restore: exit %d %q %s", key, h, snap.Height, code, out, errs)
		}
	}
	// History below the snapshot height is not in the backup: refused, not
	// answered from the snapshot.
	if out, errs, code := n.cli("", "query", "get", "k0", "--height", fmt.Sprint(snap.Height-1)); code == 0 {
		t.Fatalf("read at %d, below the restored floor %d: %q %s", snap.Height-1, snap.Height, out, errs)
	}
	if _, errs, code := n.cli("", "tx", "put", "after", "restore"); code != 0 {
		t.Fatalf("tx after restore: %s", errs)
	}
	if out, errs, code := n.cli("", "query", "get", "after"); code != 0 || !strings.Contains(out, "after = restore") {
		t.Fatalf("read after restore: %q %s", out, errs)
	}
	n.stop()
	if h, _, _ := appState(t, home); h <= snap.Height {
		t.Fatalf("the node did not go on: app height %d, snapshot %d", h, snap.Height)
	}
}

// refuseImports: into the wiped home, each bad file is refused with its
// reason and nothing is written.
func refuseImports(t *testing.T, n *devNode, home *consensus.Home, good []byte, bare string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	change := func(at int, to byte) []byte {
		b := append([]byte(nil), good...)
		b[at] = to
		return b
	}
	v := bytes.Index(good, []byte("v3"+valueMark))
	if v < 0 {
		t.Fatal("the value v3 is not in the backup file")
	}
	cases := []struct {
		name, file, reason string
	}{
		{"value", write("value.snap", change(v+1, '9')), "digest"},
		{"last byte", write("sig.snap", change(len(good)-1, good[len(good)-1]^1)), "signature"},
		{"chain state", write("chain.snap", change(chainStateOffset(t, good)+40, good[chainStateOffset(t, good)+40]^1)), "CometBFT state"},
		{"version", write("v3.snap", append([]byte("dstt-backup/v3\n"), good[len("dstt-backup/v2\n"):]...)), "backup format v3; this dstt reads format v2"},
		{"truncated", write("short.snap", good[:len(good)/2]), "malformed"},
		{"bare", bare, "restores only a home that still holds its CometBFT data"},
	}
	for _, c := range cases {
		_, errs, code := n.cli("", "snapshot", "import", c.file)
		if code != exitSnapshotRefused || !strings.Contains(errs, "snapshot refused") || !strings.Contains(errs, c.reason) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", c.name, code, errs, exitSnapshotRefused, c.reason)
		}
		if entries, _ := os.ReadDir(home.DataDir()); len(entries) != 0 {
			t.Fatalf("%s: a refused import wrote into %s: %v", c.name, home.DataDir(), entries)
		}
	}
}

// chainStateOffset is where the chain state field of a backup file starts.
func chainStateOffset(t *testing.T, b []byte) int {
	t.Helper()
	f, err := decodeBackup(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Index(b, f.snap) + len(f.snap) + 3
}

// exportRunning exports, from the running node, a backup of the newest
// snapshot the node wrote (its CometBFT chain read over the RPC); a write
// after it makes sure the block after the snapshot height is committed.
func exportRunning(t *testing.T, n *devNode, written map[string]float64) (snapshotJSON, string) {
	t.Helper()
	out, errs, code := n.cli("", "snapshot", "list", "-o", "json")
	var list []snapshotJSON
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) == 0 {
		t.Fatalf("snapshot list on the running node: exit %d %q %s", code, out, errs)
	}
	res, code := n.cliJSON("", "tx", "put", "tail", "v")
	if code != 0 {
		t.Fatalf("tx put: %v", res)
	}
	written["tail"] = res["height"].(float64)
	backup := filepath.Join(t.TempDir(), "backup.snap")
	out, errs, code = n.cli("", "snapshot", "export", fmt.Sprint(list[len(list)-1].Height), backup, "-o", "json")
	var snap snapshotJSON
	if code != 0 || json.Unmarshal([]byte(out), &snap) != nil || snap.AuditHead == "" {
		t.Fatalf("snapshot export on the running node: exit %d %q %s", code, out, errs)
	}
	return snap, backup
}

// checkTrustFlags: verify roots the backup in a header hash the operator
// gives instead of the genesis validators: the right one verifies, another
// is refused with the reason.
func checkTrustFlags(t *testing.T, n *devNode, backup string, b []byte) {
	t.Helper()
	f, err := decodeBackup(b)
	if err != nil {
		t.Fatal(err)
	}
	h := fmt.Sprint(f.anchor.Current.Height)
	right := fmt.Sprintf("%X", f.anchor.Current.Hash())
	wrong := fmt.Sprintf("%X", f.anchor.Last.Hash())
	if out, errs, code := n.cli("", "snapshot", "verify", backup, "--trust-height", h, "--trust-hash", right); code != 0 || !strings.Contains(out, "verified") {
		t.Fatalf("verify with the trusted hash of %s: exit %d %q %s", h, code, out, errs)
	}
	if _, errs, code := n.cli("", "snapshot", "verify", backup, "--trust-height", h, "--trust-hash", wrong); code != exitSnapshotRefused || !strings.Contains(errs, "the trusted hash is") {
		t.Fatalf("verify with another hash: exit %d %s", code, errs)
	}
}
