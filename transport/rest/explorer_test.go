package rest_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/crypto/merkle"
	gogotypes "github.com/cosmos/gogoproto/types"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/transport/internal/testnode"
	"github.com/dstt/dstt/types"
)

// TestExplorerReads checks the explorer's endpoints on a node with access
// control, against openapi.json: the audit log (refused unsigned, served
// to an admin, every entry's hash recomputed and linked), the anchor of a
// block's audit head in the next block's signed commit (verified, and not
// yet signed for the newest block), a tx's bytes (its hash) and the policy.
func TestExplorerReads(t *testing.T) {
	n := testnode.Start(t, testnode.Options{RBAC: true})
	c := loadContract(t, n.URL())
	out := commitOne(t, n, signTx(t, n, n.Admin, put("acct/1", "100")))
	if out.Status != api.StatusCommitted {
		t.Fatalf("commit: %+v", out)
	}
	signed := func(path string, data []byte, height int64) http.Header {
		sr, err := api.SignRead(n.Admin, n.ChainID, path, data, height, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return http.Header{"Authorization": {sr.String()}}
	}

	// The audit log: refused to anyone, served to the admin.
	c.call("GET", api.PathAuditEntries, nil, nil, nil, nil, 403, false)
	req := audit.EntriesRequest{From: 1, Limit: 50}
	body := c.call("GET", api.PathAuditEntries, nil, url.Values{"from": {"1"}, "limit": {"50"}}, nil, signed(audit.QueryEntries, req.Encode(), 0), 200, false)
	var page api.AuditPage
	if err := json.Unmarshal(body, &page); err != nil || len(page.Entries) == 0 || page.HeadSeq != uint64(len(page.Entries)) {
		t.Fatalf("audit page: %v %s", err, body)
	}
	var prev []byte
	var mine audit.Entry
	for i, raw := range page.Entries {
		e, err := audit.DecodeJSON(raw)
		if err != nil {
			t.Fatalf("entry %d: %v: %s", i, err, raw)
		}
		if !bytes.Equal(e.ComputeHash(), e.Hash) || !bytes.Equal(e.PrevHash, prev) {
			t.Errorf("entry %d does not verify or link: %s", e.Seq, raw)
		}
		prev = e.Hash
		if strings.EqualFold(hex.EncodeToString(e.TxHash), out.Hash) {
			mine = e
		}
	}
	if mine.Seq == 0 || mine.Height != uint64(out.Height) {
		t.Fatalf("no audit entry for tx %s at height %d", out.Hash, out.Height)
	}
	c.call("GET", api.PathAuditEntries, nil, url.Values{"limit": {"10001"}}, nil, nil, 400, true)

	// The head after the tx's block, proved in the next block's commit.
	var anchor api.AuditAnchor
	waitFor(t, 10*time.Second, "the block after the tx", func() bool {
		b := c.call("GET", api.PathAuditAnchor, nil, url.Values{"height": {fmt.Sprint(out.Height)}}, nil, nil, 200, false)
		anchor = api.AuditAnchor{}
		if err := json.Unmarshal(b, &anchor); err != nil {
			t.Fatal(err)
		}
		return anchor.Failure != api.AnchorNotSignedYet
	})
	want := audit.AppHash(mustHex(t, anchor.StateHash), audit.ChainHead{Seq: anchor.HeadSeq, Hash: mustHex(t, anchor.HeadHash)})
	if !anchor.Verified || anchor.HeadSeq < mine.Seq || anchor.AppHash != hex.EncodeToString(want) ||
		anchor.SignedHeight != out.Height+1 || len(anchor.Signers) != 1 || anchor.SignedPower != anchor.TotalPower {
		t.Errorf("anchor of height %d: %+v", out.Height, anchor)
	}
	checkCommitProof(t, anchor)
	st := c.call("GET", api.PathStatus, nil, nil, nil, nil, 200, false)
	var status api.Status
	_ = json.Unmarshal(st, &status)
	b := c.call("GET", api.PathAuditAnchor, nil, url.Values{"height": {fmt.Sprint(status.LatestHeight)}}, nil, nil, 200, false)
	anchor = api.AuditAnchor{}
	if err := json.Unmarshal(b, &anchor); err != nil || anchor.Verified || anchor.Failure != api.AnchorNotSignedYet {
		t.Errorf("anchor of the newest height %d: %s", status.LatestHeight, b)
	}
	c.call("GET", api.PathAuditAnchor, nil, url.Values{"height": {"x"}}, nil, nil, 400, true)

	// The tx's bytes: refused to anyone, served to its signer.
	hash := map[string]string{"hash": out.Hash}
	c.call("GET", "/v1/txs/{hash}/raw", hash, nil, nil, nil, 403, false)
	raw := c.call("GET", "/v1/txs/{hash}/raw", hash, nil, nil, signed(types.QueryTx, mustHex(t, out.Hash), 0), 200, false)
	var tb api.TxBytes
	if err := json.Unmarshal(raw, &tb); err != nil {
		t.Fatal(err)
	}
	txb, err := base64.StdEncoding.DecodeString(tb.Tx)
	if sum := sha256.Sum256(txb); err != nil || !strings.EqualFold(hex.EncodeToString(sum[:]), out.Hash) || tb.Height != out.Height {
		t.Errorf("tx bytes: %s", raw)
	}
	c.call("GET", "/v1/txs/{hash}/raw", map[string]string{"hash": "xyz"}, nil, nil, nil, 400, true)

	// The policy: refused to anyone, served to the admin.
	c.call("GET", api.PathPolicy, nil, nil, nil, nil, 403, false)
	pol := c.call("GET", api.PathPolicy, nil, nil, nil, signed(types.QueryPolicy, nil, 0), 200, false)
	var pv types.PolicyView
	if err := json.Unmarshal(pol, &pv); err != nil || pv.Open || len(pv.Grants) == 0 {
		t.Errorf("policy: %s", pol)
	}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestUIServed checks that the gateway serves the embedded explorer at
// /ui/ with its security headers, and only for GET.
func TestUIServed(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(n.URL() + "/ui")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/ui/" {
		t.Errorf("/ui: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	r := do(t, http.MethodGet, n.URL()+"/ui/", "", nil)
	if r.status != 200 || !strings.HasPrefix(r.ctype, "text/html") || !bytes.Contains(r.body, []byte("dstt explorer")) {
		t.Fatalf("/ui/: %d %s %.200s", r.status, r.ctype, r.body)
	}
	resp, err = http.Get(n.URL() + "/ui/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	wantProblem(t, "POST /ui/", do(t, http.MethodPost, n.URL()+"/ui/", "text/plain", []byte("x")), 405, api.ProblemMethod)
	if r := do(t, http.MethodGet, n.URL()+"/ui/assets/no-such-file.js", "", nil); r.status != 404 {
		t.Errorf("a missing asset: %d", r.status)
	}
}

// checkCommitProof checks what a client checks with the anchor's proof: the
// header leaves hash to the block hash, and the app hash and validators
// hash leaves are the anchor's; the set hashes to the header's validators
// hash. (The signatures are checked by the SDK's tests and in the browser.)
func checkCommitProof(t *testing.T, a api.AuditAnchor) {
	t.Helper()
	p := a.Proof
	if p == nil || len(p.HeaderLeaves) != 14 || len(p.Signatures) != 1 || len(p.Validators) != 1 {
		t.Fatalf("proof: %+v", p)
	}
	var leaves [][]byte
	for _, l := range p.HeaderLeaves {
		b, err := base64.StdEncoding.DecodeString(l)
		if err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, b)
	}
	if got := hex.EncodeToString(merkle.HashFromByteSlices(leaves)); got != a.BlockHash {
		t.Errorf("the header leaves hash to %s, the block hash is %s", got, a.BlockHash)
	}
	var app, vh gogotypes.BytesValue
	if app.Unmarshal(leaves[10]) != nil || hex.EncodeToString(app.Value) != a.AppHash || vh.Unmarshal(leaves[7]) != nil || hex.EncodeToString(vh.Value) != a.ValidatorsHash {
		t.Errorf("app hash or validators hash leaf: %x %x", leaves[10], leaves[7])
	}
	if p.Signatures[0].Flag != 2 || !strings.EqualFold(p.Signatures[0].Address, p.Validators[0].Address) {
		t.Errorf("signatures %+v, validators %+v", p.Signatures, p.Validators)
	}
}
