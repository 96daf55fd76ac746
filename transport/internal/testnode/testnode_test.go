package testnode_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/transport/client"
	"github.com/dstt/dstt/transport/internal/testnode"
	"github.com/dstt/dstt/types"
)

// The test node is what `dstt start` runs (one assembler): the app's
// CheckTx rejections and refused reads reach the node security log, and
// the audit sinks of audit.toml ship both chains.
func TestTestNodeHasTheHooksOfDsttStart(t *testing.T) {
	n := testnode.Start(t, testnode.Options{RBAC: true, AuditConfig: `
[[sink]]
name = "node-file"
type = "file"
chain = "node"
format = "json"
path = "data/audit/node-sink.jsonl"
poll_interval = "10ms"

[[sink]]
name = "consensus-file"
type = "file"
chain = "consensus"
format = "json"
path = "data/audit/consensus-sink.jsonl"
poll_interval = "10ms"
`})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin := n.AdminClient(t)
	res, err := admin.SubmitOps(ctx, types.Op{Sum: &types.Op_Put{Put: &types.Put{Key: "secret", Value: []byte("v")}}})
	if err != nil {
		t.Fatal(err)
	}

	// A read the node refuses: the app's OnAuthFailure hook, with the REST
	// client's address.
	stranger, err := security.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	sc, err := client.NewREST(n.URL(), client.WithReader(stranger))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := sc.Get(ctx, "secret", 0); !errors.Is(err, client.ErrUnauthorized) {
		t.Fatalf("stranger reads secret: %v", err)
	}
	// A tx CheckTx rejects: the app's OnCheckTxRejected hook.
	garbage := []byte("not a dstt tx")
	if r, err := n.Node.Client().BroadcastTxSync(ctx, garbage); err != nil || r.Code == 0 {
		t.Fatalf("garbage tx: %+v %v", r, err)
	}

	// The node log has both, after the start records.
	if err := n.NodeLog.Sync(); err != nil {
		t.Fatal(err)
	}
	ents, err := n.NodeLog.Entries(ctx, 1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	strangerAddr := types.Address(stranger.PubKey())
	want := map[audit.Kind]func(e audit.Entry) bool{
		audit.KindConfigLoaded: func(audit.Entry) bool { return true },
		audit.KindNodeStarted:  func(audit.Entry) bool { return true },
		// Refused by the node, asked through the gateway: the client's address
		// reaches the hook with the query.
		audit.KindAuthFailed:      func(e audit.Entry) bool { return e.Actor == strangerAddr && e.Endpoint == "127.0.0.1" },
		audit.KindCheckTxRejected: func(e audit.Entry) bool { return bytes.Equal(e.TxHash, types.TxHash(garbage)) },
	}
	for kind, match := range want {
		if !containsEntry(ents, kind, match) {
			t.Errorf("no %s entry in the node log (%d entries)", kind, len(ents))
		}
	}

	// The sinks ship both chains: the node chain's last entry and the
	// consensus entry of the admin's tx reach their files.
	last := ents[len(ents)-1]
	waitForLine(t, ctx, filepath.Join(n.Home, "data/audit/node-sink.jsonl"), func(e audit.Entry) bool { return e.Seq == last.Seq && e.Kind == last.Kind })
	waitForLine(t, ctx, filepath.Join(n.Home, "data/audit/consensus-sink.jsonl"), func(e audit.Entry) bool {
		return strings.EqualFold(hex.EncodeToString(e.TxHash), res.Hash) && e.Height == uint64(res.Height)
	})
}

func containsEntry(ents []audit.Entry, kind audit.Kind, match func(audit.Entry) bool) bool {
	for _, e := range ents {
		if e.Kind == kind && match(e) {
			return true
		}
	}
	return false
}

// waitForLine waits, until ctx's deadline, for a JSON entry line in path
// that matches.
func waitForLine(t *testing.T, ctx context.Context, path string, match func(audit.Entry) bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if f, err := os.Open(path); err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				var e audit.Entry
				if json.Unmarshal(sc.Bytes(), &e) == nil && match(e) {
					f.Close()
					return
				}
			}
			f.Close()
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no matching entry in %s: %v", path, ctx.Err())
		case <-tick.C:
		}
	}
}
