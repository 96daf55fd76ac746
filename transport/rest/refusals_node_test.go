package rest_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/transport/internal/testnode"
	"github.com/dstt/dstt/transport/rest"
	"github.com/dstt/dstt/types"
)

// Submissions the gateway refuses before admission (here: a forged
// signature) are recorded in the node's security log with the client's
// endpoint; repeats are summarised, not recorded one by one.
func TestPrecheckRefusalsRecorded(t *testing.T) {
	n := testnode.Start(t, testnode.Options{NodeLog: true})
	var hashes [][]byte
	for i := range 3 {
		bad := signTx(t, n, n.Admin, put("forged", "1"))
		bad[len(bad)-1] ^= 1 // the last byte of its signature
		hashes = append(hashes, types.TxHash(bad))
		r := postJSON(t, n, api.SubmitRequest{Tx: hex.EncodeToString(bad)})
		wantProblem(t, fmt.Sprintf("forged tx %d", i), r, http.StatusUnprocessableEntity, types.CodeBadSignature.Name())
	}
	got := entriesAfterShutdown(t, n, func(e audit.Entry) bool {
		return e.Kind == audit.KindCheckTxRejected && e.CodeName == types.CodeBadSignature.Name()
	})
	if len(got) != 2 {
		t.Fatalf("%d BAD_SIGNATURE entries, want the first refusal and one summary", len(got))
	}
	first, sum := got[0], got[1]
	if first.Action != "submit" || first.Endpoint != "127.0.0.1" || first.Actor != "ip:127.0.0.1" ||
		string(first.TxHash) != string(hashes[0]) || first.Code != uint32(types.CodeBadSignature) {
		t.Errorf("first refusal: %+v", first)
	}
	if sum.Endpoint != "127.0.0.1" || !slices.Equal(sum.Resources, []string{"count:2"}) || sum.TxHash != nil {
		t.Errorf("summary: %+v", sum)
	}
}

// Reads the node refuses a gateway client (here: unsigned reads of a key on
// a chain with access control) are recorded by the application's hook with
// the client's address, within the gateway's bounds: the first in full,
// the rest in the summary.
func TestNodeRefusalsOfGatewayClientsBounded(t *testing.T) {
	n := testnode.Start(t, testnode.Options{RBAC: true, NodeLog: true})
	for i := range 20 {
		r := do(t, http.MethodGet, n.URL()+"/v1/kv/secret", "", nil)
		if r.status != http.StatusForbidden && r.status != http.StatusUnauthorized {
			t.Fatalf("unsigned read %d: %d %s", i, r.status, r.body)
		}
	}
	got := entriesAfterShutdown(t, n, func(e audit.Entry) bool { return e.Kind == audit.KindAuthFailed })
	if len(got) != 2 || got[0].Endpoint != "127.0.0.1" || got[0].Action != "query" || got[0].Resources[0] != types.QueryGet ||
		!slices.Equal(got[1].Resources, []string{"count:19"}) || got[1].Endpoint != "127.0.0.1" {
		t.Fatalf("auth_failed entries: %+v", got)
	}
}

// entriesAfterShutdown shuts n's gateway down (ending the refusal window:
// the summaries are written) and returns the node-log entries that match.
func entriesAfterShutdown(t *testing.T, n *testnode.Node, match func(audit.Entry) bool) []audit.Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Gateway.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.NodeLog.Sync(); err != nil {
		t.Fatal(err)
	}
	ents, err := n.NodeLog.Entries(ctx, 1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var got []audit.Entry
	for _, e := range ents {
		if match(e) {
			b, _ := e.MarshalJSON()
			t.Logf("node log: %s", b)
			got = append(got, e)
		}
	}
	return got
}

// BenchmarkForgedSignatureFlood: what a flood of forged submissions (one
// client, each a distinct tx with a signature that does not verify) adds
// to the node security log. Run with -benchtime=10000x for 10,000; it
// reports the entries and bytes added in total, after the gateway's
// shutdown has written the pending summaries (docs/PERFORMANCE.md).
func BenchmarkForgedSignatureFlood(b *testing.B) {
	n := testnode.Start(b, testnode.Options{NodeLog: true, Gateway: func(c *rest.Config) { c.RateLimit = 0 }})
	forged := make([]string, b.N)
	for i := range forged {
		bad := signTx(b, n, n.Admin, put(fmt.Sprintf("forged/%d", i), "1"))
		bad[len(bad)-1] ^= 1
		forged[i] = hex.EncodeToString(bad)
	}
	ctx := context.Background()
	if err := n.NodeLog.Sync(); err != nil {
		b.Fatal(err)
	}
	head0, size0 := nodeLogSize(b, n)
	b.ResetTimer()
	for i := range b.N {
		if r := postJSON(b, n, api.SubmitRequest{Tx: forged[i]}); r.status != http.StatusUnprocessableEntity {
			b.Fatalf("forged tx %d: %d %s", i, r.status, r.body)
		}
	}
	b.StopTimer()
	if err := n.Gateway.Shutdown(ctx); err != nil {
		b.Fatal(err)
	}
	if err := n.NodeLog.Sync(); err != nil {
		b.Fatal(err)
	}
	head1, size1 := nodeLogSize(b, n)
	b.ReportMetric(float64(head1-head0), "log_entries")
	b.ReportMetric(float64(size1-size0), "log_bytes")
}

// nodeLogSize is the node log's head seq and file size.
func nodeLogSize(tb testing.TB, n *testnode.Node) (uint64, int64) {
	tb.Helper()
	head, err := n.NodeLog.Head(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	st, err := os.Stat(n.NodeLog.Path())
	if err != nil {
		tb.Fatal(err)
	}
	return head.Seq, st.Size()
}

// A node without the gateway (--rest-laddr off) still bounds what the
// application's refusals add to its security log: txs that reach CheckTx
// another way (a peer's gossip; here the node's own client) and are
// refused are grouped and summarised as the gateway would.
func TestNodeRefusalsBoundedWithoutGateway(t *testing.T) {
	n := testnode.Start(t, testnode.Options{NodeLog: true, Gateway: func(c *rest.Config) { c.ListenAddress = "off" }})
	if n.Gateway != nil {
		t.Fatal("the gateway serves")
	}
	ctx := context.Background()
	for i := range 50 {
		garbage := []byte(fmt.Sprintf("not a dstt tx %d", i))
		if r, err := n.Node.Client().BroadcastTxSync(ctx, garbage); err != nil || r.Code == 0 {
			t.Fatalf("garbage tx %d: %+v %v", i, r, err)
		}
	}
	if err := n.NodeLog.Sync(); err != nil {
		t.Fatal(err)
	}
	ents, err := n.NodeLog.Entries(ctx, 1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var got int
	for _, e := range ents {
		if e.Kind == audit.KindCheckTxRejected {
			got++
		}
	}
	if got != 1 {
		t.Fatalf("%d checktx_rejected entries for 50 refused txs of one sender, want the first (the rest go in its summary)", got)
	}
}
