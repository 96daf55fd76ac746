package rest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/transport/internal/testnode"
	"github.com/dstt/dstt/types"
)

// TestAuditEntriesAfterPruning: once the audit chain is pruned below an
// anchor (the governance op AuditAnchor, committed through the gateway), a
// page asked from below answers 410 PRUNED naming the lowest readable
// entry, and a page asked without from starts there.
func TestAuditEntriesAfterPruning(t *testing.T) {
	n := testnode.Start(t, testnode.Options{RBAC: true, Org: true})
	c := loadContract(t, n.URL())
	for i := range 3 {
		if out := commitOne(t, n, signTx(t, n, n.Admin, put(fmt.Sprintf("acct/%d", i), "1"))); out.Status != api.StatusCommitted {
			t.Fatalf("commit: %+v", out)
		}
	}
	page := func(from uint64, status int) []byte {
		t.Helper()
		req := audit.EntriesRequest{From: from}
		sr, err := api.SignRead(n.Admin, n.ChainID, audit.QueryEntries, req.Encode(), 0, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		var q url.Values
		if from > 0 {
			q = url.Values{"from": {fmt.Sprint(from)}}
		}
		return c.call("GET", api.PathAuditEntries, nil, q, nil, http.Header{"Authorization": {sr.String()}}, status, false)
	}
	first := func(body []byte) audit.Entry {
		t.Helper()
		var p api.AuditPage
		if err := json.Unmarshal(body, &p); err != nil || len(p.Entries) == 0 {
			t.Fatalf("audit page: %v %s", err, body)
		}
		e, err := audit.DecodeJSON(p.Entries[0])
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	e3 := first(page(3, 200))
	op := types.Op{Sum: &types.Op_AuditAnchor{AuditAnchor: &types.AuditAnchor{Seq: 3, Hash: e3.Hash, PruneBelow: 3}}}
	if out := commitOne(t, n, signTx(t, n, n.Admin, op)); out.Status != api.StatusCommitted {
		t.Fatalf("the anchor: %+v", out)
	}
	var p api.Problem
	if err := json.Unmarshal(page(1, 410), &p); err != nil || p.Code != "PRUNED" || !strings.Contains(p.Detail, "lowest readable entry is seq 3") {
		t.Fatalf("a page from below the prune point: %+v (%v)", p, err)
	}
	if e := first(page(0, 200)); e.Seq != 3 || string(e.Hash) != string(e3.Hash) {
		t.Fatalf("a page without from starts at seq %d, want the anchored entry 3", e.Seq)
	}
}
