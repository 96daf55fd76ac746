package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestAuditAnchorPruneE2E: a real node; the consensus chain is exported,
// an anchor with a wrong hash and pruning above the anchor are refused
// (AUDIT_ANCHOR, AUDIT_PRUNE), the export's last entry is anchored with
// --prune through gov sign/submit; then reads below it answer PRUNED naming
// the lowest readable entry, audit verify proves the chain from there, and
// an export of the entries after the anchor verifies against it and the
// validators' signatures.
func TestAuditAnchorPruneE2E(t *testing.T) {
	n := newOneOrgNode(t, "anchor-e2e")
	for i := range 5 {
		if _, errs, code := n.cli("", "tx", "put", fmt.Sprintf("k%d", i), "v"); code != 0 {
			t.Fatalf("tx put: %s", errs)
		}
	}
	dir := t.TempDir()
	exp := filepath.Join(dir, "before.jsonl")
	if _, errs, code := n.cli("", "audit", "export", "--format", "json", "--out", exp); code != 0 {
		t.Fatalf("export: %s", errs)
	}
	lines := readLines(t, exp)
	anchorSeq := len(lines)
	var last struct{ Hash string }
	if err := json.Unmarshal([]byte(lines[anchorSeq-1]), &last); err != nil {
		t.Fatal(err)
	}

	submit := func(args ...string) (string, int) {
		t.Helper()
		prop := filepath.Join(dir, "prop.json")
		n.mustJSON(append(args, "-f", prop)...)
		n.mustJSON("gov", "sign", prop, "--from", "dev")
		_, errs, code := n.cli("", "gov", "submit", prop)
		return errs, code
	}
	wrong := strings.Repeat("0", 64)
	if errs, code := submit("audit", "anchor", "--entry", fmt.Sprintf("%d:%s", anchorSeq, wrong)); code == 0 || !strings.Contains(errs, "AUDIT_ANCHOR") {
		t.Fatalf("anchor with a wrong hash: exit %d %s", code, errs)
	}
	if errs, code := submit("audit", "prune", "--below", "2"); code == 0 || !strings.Contains(errs, "AUDIT_PRUNE") {
		t.Fatalf("prune with no anchor: exit %d %s", code, errs)
	}
	if errs, code := submit("audit", "anchor", "--export", exp, "--prune"); code != 0 {
		t.Fatalf("anchor --prune: exit %d %s", code, errs)
	}
	if _, errs, code := n.cli("", "tx", "put", "after", "v"); code != 0 { // the anchor's block under a signed app hash
		t.Fatalf("tx put: %s", errs)
	}

	_, errs, code := n.cli("", "audit", "export", "--format", "json", "--from", "1")
	if code == 0 || !strings.Contains(errs, "PRUNED") || !strings.Contains(errs, fmt.Sprintf("lowest readable entry is seq %d", anchorSeq)) {
		t.Fatalf("export from seq 1 after pruning: exit %d %s", code, errs)
	}
	rep, code := n.cliJSON("", "audit", "verify")
	if code != 0 || rep["ok"] != true || rep["pruned_below"] != float64(anchorSeq) {
		t.Fatalf("verify after pruning: %v (exit %d)", rep, code)
	}
	if out, _, code := n.cli("", "audit", "verify"); code != 0 || !strings.Contains(out, fmt.Sprintf("verified from seq %d", anchorSeq)) {
		t.Fatalf("verify text after pruning: %s", out)
	}
	after := filepath.Join(dir, "after.jsonl")
	if _, errs, code := n.cli("", "audit", "export", "--format", "json", "--from", fmt.Sprint(anchorSeq+1), "--out", after); code != 0 {
		t.Fatalf("export after the anchor: %s", errs)
	}
	if out, errs, code := n.cli("", "audit", "verify", "--file", after, "--after", fmt.Sprintf("%d:%s", anchorSeq, last.Hash), "--prove"); code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("verify the export after the anchor: exit %d %s %s", code, out, errs)
	}
	n.stop()
}

// newOneOrgNode starts a dev node on a new chain with access control whose
// one member org (k = 1) has the key dev, which the CLI signs with, as its
// admin.
func newOneOrgNode(t *testing.T, chainID string) *devNode {
	n := newDevNode(t)
	addr := n.mustJSON("keys", "add", "dev", "--keyring-backend", "test")["address"].(string)
	if out, errs, code := n.cli("", "init", "--admin", addr, "--chain-id", chainID, "--rpc-laddr", n.rpc, "--p2p-laddr", n.p2p); code != 0 {
		t.Fatalf("init: %d %s %s", code, out, errs)
	}
	n.withOrgs([]map[string]any{{"id": "org1", "admins": []string{addr}}}, 1, "dev")
	n.start()
	return n
}

// withOrgs writes the member orgs and k into the home's genesis (before
// the first start) and makes the CLI sign with the test keyring's key from.
func (n *devNode) withOrgs(orgs []map[string]any, threshold int, from string) {
	n.t.Helper()
	editGenesisAppState(n.t, filepath.Join(n.home, "config", "genesis.json"), func(app map[string]any) {
		app["orgs"], app["threshold"] = orgs, threshold
	})
	cc, err := loadClientConfig(n.home)
	if err != nil {
		n.t.Fatal(err)
	}
	cc.KeyringBackend, cc.From = "test", from
	if err := saveClientConfig(n.home, cc); err != nil {
		n.t.Fatal(err)
	}
}
