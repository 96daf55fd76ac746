package main

import (
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dstt/dstt/transport/client"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// TestGtxCLI: register a participant, begin a saga from a file, see its
// pending step, answer it as the participant (what an executor submits),
// then show, watch and list it; gtx step leaves a release for a
// single-stepping executor of the home.
func TestGtxCLI(t *testing.T) {
	n := newDevNode(t)
	n.start()
	defer n.stop()

	pub := hex.EncodeToString(typestest.Key("p1").PubKey())
	if res, code := n.cliJSON("", "gtx", "participant", "register", "bank1", "--org", "bank1", "--pub-key", pub, "--endpoint", "http://127.0.0.1:1/gtx"); code != 0 {
		t.Fatalf("register: %v", res)
	}
	file := filepath.Join(t.TempDir(), "t1.json")
	if err := writeString(file, `{"gid": "t1", "mode": "saga", "deadline": "10m",
	  "branches": [{"participant": "bank1", "action": {"debit": 5}, "compensate": "credit 5"}],
	  "commit_writes": [{"key": "transfers/t1", "value": "done"}]}`); err != nil {
		t.Fatal(err)
	}
	if res, code := n.cliJSON("", "gtx", "begin", file); code != 0 {
		t.Fatalf("begin: %v", res)
	}
	pending, code := n.cliJSON("", "gtx", "pending")
	work, _ := pending["work"].([]any)
	if code != 0 || len(work) != 1 || work[0].(map[string]any)["op"] != "action" {
		t.Fatalf("pending: %v", pending)
	}
	if out, _, code := n.cli("", "gtx", "show", "t1"); code != 0 || !strings.Contains(out, "RUNNING") || !strings.Contains(out, "awaited") {
		t.Fatalf("show while running: %q", out)
	}

	// The participant's signed answer, carried by the dev key.
	c, err := client.NewREST("http://"+n.rest, client.WithSigner(devSigner(t, n.home)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	info, err := c.ChainInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := &types.BeginGtx{Gid: "t1", Branches: []types.GtxBranch{{Participant: "bank1", Action: []byte(`{"debit":5}`)}}}
	if _, err := c.SubmitOps(ctx, typestest.Answer(t, info.ChainID, b, 0, types.GtxOp_GTX_OP_ACTION, 1, types.GtxStatus_GTX_STATUS_SUCCEEDED, "p1")); err != nil {
		t.Fatal(err)
	}
	out, errs, code := n.cli("", "gtx", "watch", "t1", "--poll", "50ms", "--timeout", "30s")
	if code != 0 || !strings.Contains(out, "COMMITTED") {
		t.Fatalf("watch: exit %d %q %q", code, out, errs)
	}
	out, _, code = n.cli("", "gtx", "show", "t1")
	if code != 0 || !strings.Contains(out, "succeeded") || !strings.Contains(out, typestest.Addr("p1")) || !strings.Contains(out, "on commit: put transfers/t1 = done") {
		t.Fatalf("show: %q", out)
	}
	if kv, code := n.cliJSON("", "query", "get", "transfers/t1"); code != 0 || kv["value"] != "done" {
		t.Fatalf("the commit write: %v", kv)
	}
	list, code := n.cliJSON("", "gtx", "list")
	if gtxs, _ := list["gtxs"].([]any); code != 0 || len(gtxs) != 1 || gtxs[0].(map[string]any)["phase"] != "committed" {
		t.Fatalf("list: %v", list)
	}
	if _, _, code := n.cli("", "gtx", "step", "t1"); code != 0 {
		t.Fatal("gtx step failed")
	}
	if _, err := os.Stat(filepath.Join(gtxGateDir(n.home), "t1")); err != nil {
		t.Fatalf("no release for t1: %v", err)
	}
}
