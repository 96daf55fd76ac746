package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dstt/dstt/abci/engine"
	"github.com/dstt/dstt/consensus"
	"github.com/dstt/dstt/storage"
)

// TestSnapshotBackupRestore runs a real node on a chain with
// snapshot_interval set: snapshot create and export on the stopped node,
// the app state wiped, import, and the node resumes with the same app hash
// and audit head and goes on; a backup with one byte changed is refused at
// import with the reason and exit code 7, and nothing is written.
func TestSnapshotBackupRestore(t *testing.T) {
	n := newDevNode(t)
	n.start() // lays out the dev home
	n.stop()
	newChainWithSnapshots(t, n.home)
	n.start()
	for i := range 6 {
		if _, errs, code := n.cli("", "tx", "put", fmt.Sprint("k", i), fmt.Sprint("v", i, valueMark)); code != 0 {
			t.Fatalf("tx put: %s", errs)
		}
	}
	n.stop()
	home, err := consensus.OpenHome(n.home)
	if err != nil {
		t.Fatal(err)
	}
	wantH, wantHash, wantHead := appState(t, home)

	_, backup := createAndExport(t, n)
	if out, errs, code := n.cli("", "snapshot", "verify", backup); code != 0 || !strings.Contains(out, "verified snapshot of height") {
		t.Fatalf("snapshot verify: %q %s", out, errs)
	}

	// A changed byte in a value: refused, with the reason, before anything
	// is written.
	b, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte("v3"+valueMark))
	if i < 0 {
		t.Fatal("the value v3 is not in the backup file")
	}
	bad := append([]byte(nil), b...)
	bad[i+1] = '9'
	tampered := filepath.Join(t.TempDir(), "tampered.snap")
	if err := os.WriteFile(tampered, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(home.AppDataDir()); err != nil { // the app state is lost
		t.Fatal(err)
	}
	_, errs, code := n.cli("", "snapshot", "import", tampered)
	if code != exitSnapshotRefused || !strings.Contains(errs, "snapshot refused") || !strings.Contains(errs, "digest") {
		t.Fatalf("tampered import: exit %d, stderr %q; want %d and the reason", code, errs, exitSnapshotRefused)
	}
	if _, err := os.Stat(home.AppDataDir()); !os.IsNotExist(err) {
		t.Fatalf("a refused import wrote %s (%v)", home.AppDataDir(), err)
	}

	if out, errs, code := n.cli("", "snapshot", "import", backup); code != 0 || !strings.Contains(out, "imported snapshot") {
		t.Fatalf("snapshot import: %q %s", out, errs)
	}
	n.start() // CometBFT replays the blocks after the snapshot height
	if out, errs, code := n.cli("", "query", "get", "k5"); code != 0 || !strings.Contains(out, "k5 = v5") {
		t.Fatalf("read after restore: %q %s", out, errs)
	}
	n.stop()
	gotH, gotHash, gotHead := appState(t, home)
	// The same state: the app hash and audit head of before the wipe (an
	// empty block may have followed: it changes neither).
	if gotH < wantH || !bytes.Equal(gotHash, wantHash) || gotHead != wantHead {
		t.Fatalf("after restore: height %d app hash %X audit head %s; before the wipe %d %X %s", gotH, gotHash, gotHead, wantH, wantHash, wantHead)
	}
	n.start() // and the chain goes on
	if _, errs, code := n.cli("", "tx", "put", "after", "restore"); code != 0 {
		t.Fatalf("tx after restore: %s", errs)
	}
	n.stop()
}

// createAndExport runs snapshot create and exports its snapshot to a
// backup file on the stopped node.
func createAndExport(t *testing.T, n *devNode) (snapshotJSON, string) {
	t.Helper()
	out, errs, code := n.cli("", "snapshot", "create", "-o", "json")
	if code != 0 {
		t.Fatalf("snapshot create: %s", errs)
	}
	var snap snapshotJSON
	if err := json.Unmarshal([]byte(out), &snap); err != nil || snap.Height == 0 {
		t.Fatalf("snapshot create: %q (%v)", out, err)
	}
	backup := filepath.Join(t.TempDir(), "backup.snap")
	if _, errs, code := n.cli("", "snapshot", "export", fmt.Sprint(snap.Height), backup); code != 0 {
		t.Fatalf("snapshot export: %s", errs)
	}
	return snap, backup
}

// newChainWithSnapshots turns the dev home into a new chain whose genesis
// sets snapshot_interval (its blocks and state removed).
// valueMark ends the values the backup tests write, so that a test finds a
// value's bytes in a backup file and nowhere else: a two-byte pattern such
// as "v3" also turns up by chance inside binary hashes and signatures.
const valueMark = "-backup-test-value"

func newChainWithSnapshots(t *testing.T, dir string) {
	t.Helper()
	h, err := consensus.OpenHome(dir)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(h.GenesisFile())
	if err != nil {
		t.Fatal(err)
	}
	var g map[string]any
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	g["app_state"].(map[string]any)["params"].(map[string]any)["snapshot_interval"] = 3
	if raw, err = json.Marshal(g); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.GenesisFile(), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(h.DataDir()); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(h.DataDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	pv := filepath.Join(h.DataDir(), "priv_validator_state.json")
	if err := os.WriteFile(pv, []byte(`{"height":"0","round":0,"step":0}`), 0o600); err != nil {
		t.Fatal(err)
	}
}

// appState is the stopped node's app height, app hash and audit head.
func appState(t *testing.T, h *consensus.Home) (uint64, []byte, string) {
	t.Helper()
	s, err := storage.NewPebbleStore(h.AppDataDir(), storage.DefaultPebbleOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	e, err := engine.NewEngine(s, engine.PlainVerifier{})
	if err != nil {
		t.Fatal(err)
	}
	head, err := e.Reader().AuditHead(0)
	if err != nil {
		t.Fatal(err)
	}
	return e.Height(), e.AppHash(), head.Head.String()
}

// `dstt init --snapshot-interval N` writes the chain param into genesis,
// and the engine reads it from there; a value that is not a count, or
// above types.MaxSnapshotInterval, is refused before anything is written.
func TestInitSnapshotInterval(t *testing.T) {
	bin := dsttBinary(t)
	home := filepath.Join(t.TempDir(), "home")
	n := &devNode{t: t, bin: bin, home: home}
	if _, errs, code := n.cli("", "init", "--snapshot-interval", "-1"); code == 0 || consensus.IsInitialised(home) {
		t.Fatalf("init --snapshot-interval -1: exit %d %s", code, errs)
	}
	if _, errs, code := n.cli("", "init", "--snapshot-interval", "1000000001"); code == 0 || consensus.IsInitialised(home) || !strings.Contains(errs, "snapshot_interval=1000000001 is above 1000000000") {
		t.Fatalf("init --snapshot-interval above the bound: exit %d %s", code, errs)
	}
	if out, errs, code := n.cli("", "init", "--snapshot-interval", "7"); code != 0 {
		t.Fatalf("init: %s %s", out, errs)
	}
	h, err := consensus.OpenHome(home)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := h.Genesis()
	if err != nil {
		t.Fatal(err)
	}
	state, err := engine.DecodeGenesisState(gen.AppState)
	if err != nil || state.Params.SnapshotInterval != 7 {
		t.Fatalf("genesis snapshot_interval %d (%v), want 7", state.Params.SnapshotInterval, err)
	}
}
