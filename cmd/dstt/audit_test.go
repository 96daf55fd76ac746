package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dstt/dstt/audit"
)

// TestAuditCLI runs a real dev node with file sinks configured and checks
// the audit commands end to end: verify against the validators' signed
// commit, export in several formats, verify an export, tamper detection
// with the first bad seq, and the node security chain (start, stop, a
// mempool rejection) with its signatures.
func TestAuditCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real dstt processes")
	}
	n := newDevNode(t)
	n.start()
	n.stop()
	// Sinks: the consensus chain as native JSON, the node chain as CEF.
	conf := `[[sink]]
name = "archive"
type = "file"
format = "json"
path = "data/audit/export/consensus.jsonl"
poll_interval = "50ms"

[[sink]]
name = "node-cef"
type = "file"
chain = "node"
format = "cef"
path = "data/audit/export/node.cef"
poll_interval = "50ms"
`
	if err := os.WriteFile(filepath.Join(n.home, "config", "audit.toml"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	n.start()
	// The node's shippers read the consensus chain with queries signed by
	// its audit key, which needs read on the audit log.
	var key struct{ Address string }
	kb, kerr := os.ReadFile(filepath.Join(n.home, "config", "audit_key.json"))
	if kerr != nil || json.Unmarshal(kb, &key) != nil || key.Address == "" {
		t.Fatalf("audit key: %v", kerr)
	}
	if out, errs, code := n.cli("", "rbac", "allow", key.Address, "read", "audit/*"); code != 0 {
		t.Fatalf("rbac allow: %s %s", out, errs)
	}
	for i := range 4 {
		if _, errs, code := n.cli("", "tx", "put", fmt.Sprintf("k%d", i), "v"); code != 0 {
			t.Fatalf("tx put: %s", errs)
		}
	}
	// A tx that fails in its block: tx_rejected.
	batch := filepath.Join(t.TempDir(), "batch.json")
	os.WriteFile(batch, []byte(`{"ops":[{"check":{"key":"k0","version":"0"}},{"put":{"key":"x","value":"1"}}]}`), 0o600)
	if _, _, code := n.cli("", "tx", "batch", batch); code == 0 {
		t.Fatal("conflicting batch succeeded")
	}
	// One more block so the failed tx's block is under a signed app hash.
	if _, errs, code := n.cli("", "tx", "put", "last", "v"); code != 0 {
		t.Fatalf("tx put: %s", errs)
	}
	// A tx that does not decode is refused by CheckTx: a node-chain entry.
	// (Sent over CometBFT's RPC: the gateway would refuse it before CheckTx.)
	if _, _, code := n.cli("", "tx", "broadcast", "DEADBEEF", "--transport", "rpc"); code == 0 {
		t.Fatal("garbage tx accepted")
	}

	rep, code := n.cliJSON("", "audit", "verify")
	if code != 0 || rep["ok"] != true {
		t.Fatalf("verify: %v (exit %d)", rep, code)
	}
	anchor := rep["anchor"].(map[string]any)
	if rep["entries"].(float64) < 6 || anchor["validators"].(float64) != 1 || anchor["trusted_by"] != "trusted validator set" {
		t.Fatalf("verify report %v", rep)
	}
	out, errs, code := n.cli("", "audit", "verify")
	if code != 0 || !strings.Contains(out, "consensus chain: OK") {
		t.Fatalf("verify text: %s %s", out, errs)
	}

	// Export, all formats; the native one verifies.
	dir := t.TempDir()
	exp := filepath.Join(dir, "c.jsonl")
	if _, errs, code := n.cli("", "audit", "export", "--format", "json", "--out", exp); code != 0 {
		t.Fatalf("export: %s", errs)
	}
	lines := readLines(t, exp)
	if len(lines) < 6 {
		t.Fatalf("%d exported entries", len(lines))
	}
	var kinds []string
	for _, l := range lines {
		var e audit.Entry
		json.Unmarshal([]byte(l), &e)
		kinds = append(kinds, string(e.Kind))
	}
	if !strings.Contains(strings.Join(kinds, " "), "tx_rejected") {
		t.Fatalf("no tx_rejected entry: %v", kinds)
	}
	for _, f := range []string{"cef", "leef", "rfc5424", "ecs", "ocsf", "hec", "text"} {
		out, errs, code := n.cli("", "audit", "export", "--format", f, "--from", "2", "--to", "3")
		if code != 0 || strings.Count(out, "\n") != 2 {
			t.Fatalf("export %s: %q %s", f, out, errs)
		}
	}
	verifyExport(t, n, exp, lines, rep["head"].(string))
	// Tamper with the export: delete entry 3 -> first bad seq 3.
	tampered := filepath.Join(dir, "t.jsonl")
	os.WriteFile(tampered, []byte(strings.Join(append(lines[:2:2], lines[3:]...), "\n")+"\n"), 0o600)
	out, _, code = n.cli("", "audit", "verify", "--file", tampered)
	if code == 0 || !strings.Contains(out, "FIRST BAD ENTRY: seq 3") {
		t.Fatalf("tampered export: exit %d, %s", code, out)
	}
	// Edit an entry: first bad seq is that entry.
	edited := append([]string(nil), lines...)
	edited[4] = strings.Replace(edited[4], `"tx_index":0`, `"tx_index":1`, 1)
	os.WriteFile(tampered, []byte(strings.Join(edited, "\n")+"\n"), 0o600)
	if rep, code := n.cliJSON("", "audit", "verify", "--file", tampered); code == 0 || rep["first_bad_seq"] != float64(5) {
		t.Fatalf("edited export: %v", rep)
	}

	// tail without following.
	if out, errs, code := n.cli("", "audit", "tail", "-n", "2", "--follow=false"); code != 0 || strings.Count(out, "\n") != 2 {
		t.Fatalf("tail: %q %s", out, errs)
	}

	// The consensus file sink caught up with the chain.
	head := uint64(len(lines))
	waitFor(t, 20*time.Second, func() bool {
		return len(readLines(t, filepath.Join(n.home, "data/audit/export/consensus.jsonl"))) >= int(head)
	})
	// The sink ships only entries whose commit time is known; the first
	// export may have served the newest block's entries before that (with
	// time_source "block"), so compare with an export taken now.
	settled := filepath.Join(dir, "settled.jsonl")
	if _, errs, code := n.cli("", "audit", "export", "--format", "json", "--out", settled); code != 0 {
		t.Fatalf("export: %s", errs)
	}
	want := readLines(t, settled)[:head]
	if got := readLines(t, filepath.Join(n.home, "data/audit/export/consensus.jsonl"))[:head]; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the file sink's records differ from the export:\nsink:   %s\nexport: %s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The node chain: the mempool rejection shows up (recorded asynchronously).
	waitFor(t, 20*time.Second, func() bool {
		out, _, _ := n.cli("", "audit", "export", "--chain", "node", "--format", "text")
		return strings.Contains(out, "checktx_rejected")
	})
	n.stop()
	out, errs, code = n.cli("", "audit", "verify", "--chain", "node")
	if code != 0 || !strings.Contains(out, "node chain: OK") {
		t.Fatalf("verify node chain: %s %s", out, errs)
	}
	nodeOut, _, _ := n.cli("", "audit", "export", "--chain", "node", "--format", "text")
	for _, k := range []string{"config_loaded", "node_started", "checktx_rejected", "node_stopped"} {
		if !strings.Contains(nodeOut, k) {
			t.Fatalf("node chain lacks %s:\n%s", k, nodeOut)
		}
	}
	// Tamper with the node log: drop the file's third entry record.
	logPath := filepath.Join(n.home, "data", "audit", "node.log")
	b, _ := os.ReadFile(logPath)
	es, err := audit.ReadNodeLogFile(logPath)
	if err != nil || len(es) < 5 {
		t.Fatalf("node log: %d entries, %v", len(es), err)
	}
	enc := es[2].Encode()
	i := strings.Index(string(b), string(enc))
	cut := append(append([]byte(nil), b[:i-2]...), b[i+len(enc)+4:]...) // type byte + 1-byte length, payload, CRC
	os.WriteFile(logPath, cut, 0o600)
	out, _, code = n.cli("", "audit", "verify", "--chain", "node")
	if code == 0 || !strings.Contains(out, "FIRST BAD ENTRY: seq 3") {
		t.Fatalf("tampered node log: exit %d\n%s", code, out)
	}
}

// verifyExport checks what verify --file proves about an export: alone,
// internal consistency only (exit 6); anchored with --expect-head or
// --prove; never anchored when its first lines were cut; and a field the
// format does not define is refused, naming the line.
func verifyExport(t *testing.T, n *devNode, exp string, lines []string, provenHead string) {
	t.Helper()
	out, errs, code := n.cli("", "audit", "verify", "--file", exp)
	if code != exitUnanchored || !strings.Contains(out, "VERIFIED FOR INTERNAL CONSISTENCY ONLY") || !strings.Contains(errs, "internal consistency only") {
		t.Fatalf("verify --file alone: exit %d\n%s%s", code, out, errs)
	}
	if rep, code := n.cliJSON("", "audit", "verify", "--file", exp, "--prove"); code != 0 || rep["scope"] != audit.ScopeAnchored || rep["anchor"] == nil {
		t.Fatalf("verify --file --prove: exit %d %v", code, rep)
	}
	var last audit.Entry
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatal(err)
	}
	head := audit.ChainHead{Seq: last.Seq, Hash: last.Hash}.String()
	if out, errs, code := n.cli("", "audit", "verify", "--file", exp, "--expect-head", head); code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("verify --file --expect-head: exit %d\n%s%s (proven head %s)", code, out, errs, provenHead)
	}
	dir := t.TempDir()
	cut := filepath.Join(dir, "cut.jsonl")
	os.WriteFile(cut, []byte(strings.Join(lines[2:], "\n")+"\n"), 0o600)
	for _, extra := range [][]string{nil, {"--prove"}, {"--expect-head", head}} {
		rep, code := n.cliJSON("", append([]string{"audit", "verify", "--file", cut}, extra...)...)
		if code != exitUnanchored || rep["scope"] != audit.ScopeInternal || !strings.Contains(fmt.Sprint(rep["not_verified"]), "starts at seq 3") {
			t.Fatalf("export without its first lines, %v: exit %d %v", extra, code, rep)
		}
	}
	var third audit.Entry
	json.Unmarshal([]byte(lines[2]), &third)
	after := audit.ChainHead{Seq: 2, Hash: third.PrevHash}.String()
	if _, errs, code := n.cli("", "audit", "verify", "--file", cut, "--after", after, "--prove"); code != 0 {
		t.Fatalf("cut export with --after: exit %d %s", code, errs)
	}
	extra := filepath.Join(dir, "extra.jsonl")
	withField := append([]string(nil), lines...)
	withField[1] = strings.Replace(withField[1], `{"seq"`, `{"reviewed":true,"seq"`, 1)
	os.WriteFile(extra, []byte(strings.Join(withField, "\n")+"\n"), 0o600)
	out, _, code = n.cli("", "audit", "verify", "--file", extra)
	if code != 1 || !strings.Contains(out, "line 2") || !strings.Contains(out, `unknown field "reviewed"`) {
		t.Fatalf("unknown field: exit %d\n%s", code, out)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}
