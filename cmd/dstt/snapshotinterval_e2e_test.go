package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSnapshotIntervalByGovernanceE2E: a real node on a chain whose
// genesis has no snapshot_interval; gov propose set-snapshot-interval
// refuses a value above the bound without writing a file, and the
// proposal of 2, signed and submitted, turns snapshots on: the stopped
// node then makes a snapshot and a backup that verifies.
func TestSnapshotIntervalByGovernanceE2E(t *testing.T) {
	n := newOneOrgNode(t, "snapint-e2e")
	if _, errs, code := n.cli("", "tx", "put", "k0", "v"+valueMark); code != 0 {
		t.Fatalf("tx put: %s", errs)
	}
	prop := filepath.Join(t.TempDir(), "prop.json")
	if _, errs, code := n.cli("", "gov", "propose", "set-snapshot-interval", "1000000001", "-f", prop); code == 0 || !strings.Contains(errs, "INVALID_OP") {
		t.Fatalf("propose an interval above the bound: exit %d %s", code, errs)
	}
	if _, err := os.Stat(prop); !os.IsNotExist(err) {
		t.Fatalf("a refused proposal wrote %s (%v)", prop, err)
	}
	n.mustJSON("gov", "propose", "set-snapshot-interval", "2", "-f", prop)
	n.mustJSON("gov", "sign", prop, "--from", "dev")
	if out, errs, code := n.cli("", "gov", "show", prop); code != 0 || !strings.Contains(out, "set the snapshot interval to 2 heights") {
		t.Fatalf("gov show: exit %d %s %s", code, out, errs)
	}
	if _, errs, code := n.cli("", "gov", "submit", prop); code != 0 {
		t.Fatalf("gov submit: %s", errs)
	}
	for _, k := range []string{"k1", "k2", "k3", "k4"} {
		if _, errs, code := n.cli("", "tx", "put", k, "v"+valueMark); code != 0 {
			t.Fatalf("tx put: %s", errs)
		}
	}
	n.stop()
	_, backup := createAndExport(t, n)
	if out, errs, code := n.cli("", "snapshot", "verify", backup); code != 0 || !strings.Contains(out, "verified snapshot of height") {
		t.Fatalf("snapshot verify: %q %s", out, errs)
	}
}
