package rest_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/transport/client"
	"github.com/dstt/dstt/transport/internal/testnode"
	"github.com/dstt/dstt/transport/rest"
	"github.com/dstt/dstt/types"
)

func TestSubmitSyncCommitAndQueries(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	// Commit mode, a single tx, hex: the block result comes back.
	tx := signTx(t, n, n.Admin, put("greeting", "hello"), put("bin", "\xff\x00"))
	r := postJSON(t, n, api.SubmitRequest{Tx: hex.EncodeToString(tx), Mode: api.ModeCommit})
	var sr api.SubmitResponse
	if r.status != 200 || json.Unmarshal(r.body, &sr) != nil || sr.Committed != 1 || len(sr.Results) != 1 {
		t.Fatalf("commit: %d %s", r.status, r.body)
	}
	o := sr.Results[0]
	if o.Status != api.StatusCommitted || o.Hash != types.TxHashHex(tx) || o.Height < 1 || len(o.Writes) != 2 || o.Writes[0].Key != "greeting" {
		t.Fatalf("outcome %+v", o)
	}
	// Reads.
	var kv api.KV
	r = do(t, http.MethodGet, n.URL()+"/v1/kv/greeting", "", nil)
	if r.status != 200 || json.Unmarshal(r.body, &kv) != nil || kv.Value != "hello" || kv.Version != fmt.Sprintf("%d.%d", o.Height, o.Index) {
		t.Fatalf("get: %d %s", r.status, r.body)
	}
	r = do(t, http.MethodGet, n.URL()+"/v1/kv/bin", "", nil)
	kv = api.KV{}
	if json.Unmarshal(r.body, &kv) != nil || kv.ValueBase64 != base64.StdEncoding.EncodeToString([]byte("\xff\x00")) || kv.Value != "" {
		t.Fatalf("binary value: %s", r.body)
	}
	var txr api.TxResult
	r = do(t, http.MethodGet, n.URL()+"/v1/txs/"+o.Hash, "", nil)
	if r.status != 200 || json.Unmarshal(r.body, &txr) != nil || txr.Height != o.Height || txr.CodeName != "OK" {
		t.Fatalf("tx: %d %s", r.status, r.body)
	}
	wantProblem(t, "missing key", do(t, http.MethodGet, n.URL()+"/v1/kv/nope", "", nil), 404, "NOT_FOUND")
	wantProblem(t, "missing tx", do(t, http.MethodGet, n.URL()+"/v1/txs/"+strings.Repeat("AB", 32), "", nil), 404, "NOT_FOUND")
	wantProblem(t, "bad hash", do(t, http.MethodGet, n.URL()+"/v1/txs/xyz", "", nil), 400, api.ProblemBadRequest)
	wantProblem(t, "future height", do(t, http.MethodGet, n.URL()+"/v1/kv/greeting?height=999999", "", nil), 400, "BAD_QUERY")

	// A batch in sync mode, base64, with a key that holds "/" and "..".
	odd := "a/../b c/%x"
	txs := [][]byte{signTx(t, n, n.Admin, put(odd, "1")), signTx(t, n, n.Admin, put("greeting", "world"))}
	req := api.SubmitRequest{Txs: []string{base64.StdEncoding.EncodeToString(txs[0]), base64.RawURLEncoding.EncodeToString(txs[1])}}
	r = postJSON(t, n, req)
	if r.status != 200 || json.Unmarshal(r.body, &sr) != nil || sr.Admitted != 2 {
		t.Fatalf("sync batch: %d %s", r.status, r.body)
	}
	// Resubmitting an admitted tx in commit mode waits for the same block.
	r = postJSON(t, n, api.SubmitRequest{Txs: req.Txs, Mode: api.ModeCommit})
	if r.status != 200 || json.Unmarshal(r.body, &sr) != nil || sr.Committed+sr.Rejected != 2 {
		t.Fatalf("commit after sync: %d %s", r.status, r.body)
	}
	c, err := client.NewREST(n.URL())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	got, _, err := c.Get(ctx, odd, 0)
	if err != nil || string(got.Value) != "1" {
		t.Fatalf("odd key through the SDK: %q %v", got.Value, err)
	}
	r = do(t, http.MethodGet, n.URL()+"/v1/kv/"+strings.ReplaceAll(strings.ReplaceAll(odd, "%", "%25"), " ", "%20"), "", nil)
	if r.status != 200 {
		t.Fatalf("odd key with raw slashes: %d %s", r.status, r.body)
	}
	h, err := c.History(ctx, types.HistoryRequest{Key: "greeting"})
	if err != nil || len(h.Versions) != 2 || string(h.Versions[0].Value) != "world" {
		t.Fatalf("history: %+v %v", h, err)
	}

	// A committed tx again: REPLAY, as a problem for a single tx.
	r = postJSON(t, n, api.SubmitRequest{Tx: hex.EncodeToString(tx), Mode: api.ModeCommit})
	wantProblem(t, "replay", r, 409, "REPLAY")
	if r.problem.TxHash != o.Hash || r.problem.TxCode == nil || *r.problem.TxCode != uint32(types.CodeReplay) {
		t.Errorf("replay problem: %+v", r.problem)
	}

	// A CONFLICT in the block: a 409 problem saying so.
	r = postJSON(t, n, api.SubmitRequest{Tx: hex.EncodeToString(signTx(t, n, n.Admin, check("greeting", types.Version{}), put("x", "y"))), Mode: api.ModeCommit})
	wantProblem(t, "conflict", r, 409, "CONFLICT")
	if r.problem.Height < 1 || !strings.Contains(r.problem.Detail, "failed in block") {
		t.Errorf("conflict problem: %+v", r.problem)
	}

	// Status, health, readiness, metrics, OpenAPI.
	var st api.Status
	r = do(t, http.MethodGet, n.URL()+"/v1/status", "", nil)
	if r.status != 200 || json.Unmarshal(r.body, &st) != nil || st.ChainID != n.ChainID || st.LatestHeight < o.Height {
		t.Fatalf("status: %s", r.body)
	}
	if r := do(t, http.MethodGet, n.URL()+"/healthz", "", nil); r.status != 200 {
		t.Errorf("healthz %d", r.status)
	}
	var ready api.Ready
	if r := do(t, http.MethodGet, n.URL()+"/readyz", "", nil); r.status != 200 || json.Unmarshal(r.body, &ready) != nil || !ready.Ready {
		t.Errorf("readyz %d %s", r.status, r.body)
	}
	// Metrics are on their own address, not on the REST one.
	wantProblem(t, "metrics on the REST address", do(t, http.MethodGet, n.URL()+"/metrics", "", nil), 404, api.ProblemNoRoute)
	m := string(do(t, http.MethodGet, n.Gateway.MetricsURL(), "", nil).body)
	for _, want := range []string{`dstt_txs_committed_total{code="OK"}`, `dstt_txs_committed_total{code="CONFLICT"} 1`,
		"dstt_tx_commit_latency_seconds_bucket", "dstt_checktx_duration_seconds", "dstt_mempool_txs",
		`dstt_rest_requests_total{route="submit",status="200"}`, "go_goroutines"} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if r := do(t, http.MethodGet, n.URL()+"/v1/openapi.json", "", nil); r.status != 200 || !json.Valid(r.body) {
		t.Errorf("openapi: %d", r.status)
	}
}

// Acceptance 3: bad requests get clear problem documents and change
// nothing.
func TestBadRequestsChangeNothing(t *testing.T) {
	n := testnode.Start(t, testnode.Options{Gateway: func(c *rest.Config) {
		c.MaxBodyBytes = 4096
		c.MaxBatchTxs = 3
	}})
	// Commit one tx so there is a height to compare against.
	r := postJSON(t, n, api.SubmitRequest{Tx: hex.EncodeToString(signTx(t, n, n.Admin, put("base", "1"))), Mode: api.ModeCommit})
	if r.status != 200 {
		t.Fatalf("setup: %d %s", r.status, r.body)
	}
	before := appHash(t, n)
	good := hex.EncodeToString(signTx(t, n, n.Admin, put("should-not-exist", "x")))
	tampered := signTx(t, n, n.Admin, put("should-not-exist", "y"))
	tampered[len(tampered)-1] ^= 1
	wrongChain := func() string {
		body := &types.TxBody{ChainId: "other-chain", Nonce: 7, ValidUntilHeight: 100, Ops: []types.Op{put("should-not-exist", "z")}}
		tx, _ := security.SignTx(body, n.Admin)
		return hex.EncodeToString(tx)
	}()
	unsigned := func() string {
		body := &types.TxBody{ChainId: n.ChainID, Nonce: 7, ValidUntilHeight: 100, Ops: []types.Op{put("should-not-exist", "z")}}
		b, _ := body.Marshal()
		tx, _ := (&types.Tx{BodyBytes: b}).Marshal()
		return hex.EncodeToString(tx)
	}()
	url := n.URL() + "/v1/txs"
	cases := []struct {
		name   string
		ctype  string
		body   string
		status int
		code   string
	}{
		{"malformed JSON", "application/json", `{"txs": [`, 400, api.ProblemBadJSON},
		{"not an object", "application/json", `["abc"]`, 400, api.ProblemBadJSON},
		{"unknown field", "application/json", `{"txs": ["00"], "mdoe": "commit"}`, 400, api.ProblemBadJSON},
		{"trailing data", "application/json", `{"tx": "` + good + `"} {}`, 400, api.ProblemBadJSON},
		{"wrong type", "application/json", `{"txs": "` + good + `"}`, 400, api.ProblemBadJSON},
		{"empty body", "application/json", ``, 400, api.ProblemBadJSON},
		{"no txs", "application/json", `{"mode": "sync"}`, 400, api.ProblemBadRequest},
		{"both tx and txs", "application/json", `{"tx": "` + good + `", "txs": ["` + good + `"]}`, 400, api.ProblemBadRequest},
		{"bad mode", "application/json", `{"tx": "` + good + `", "mode": "async"}`, 400, api.ProblemBadRequest},
		{"timeout in sync mode", "application/json", `{"tx": "` + good + `", "timeout_ms": 5}`, 400, api.ProblemBadRequest},
		{"not hex or base64", "application/json", `{"txs": ["` + good + `", "@@@"]}`, 400, api.ProblemBadTxEncoding},
		{"too many txs", "application/json", `{"txs": ["00", "00", "00", "00"]}`, 413, api.ProblemTooManyTxs},
		{"oversize body", "application/json", `{"tx": "` + strings.Repeat("ab", 4096) + `"}`, 413, api.ProblemBodyTooLarge},
		{"wrong content type", "text/plain", `{"tx": "` + good + `"}`, 415, api.ProblemUnsupportedMedia},
		{"garbage tx", "application/json", `{"txs": ["` + good + `", "deadbeef"]}`, 422, "ENCODING"},
		{"bad signature in a batch", "application/json", `{"txs": ["` + good + `", "` + hex.EncodeToString(tampered) + `"], "mode": "commit"}`, 422, "BAD_SIGNATURE"},
		{"wrong chain", "application/json", `{"tx": "` + wrongChain + `"}`, 422, "WRONG_CHAIN"},
		{"unsigned", "application/json", `{"tx": "` + unsigned + `"}`, 422, "NO_SIGNATURE"},
	}
	for _, c := range cases {
		r := do(t, http.MethodPost, url, c.ctype, []byte(c.body))
		wantProblem(t, c.name, r, c.status, c.code)
	}
	// The batch with a tampered tx names it and submits nothing, not even
	// the good one before it.
	r = do(t, http.MethodPost, url, "application/json", []byte(`{"txs": ["`+good+`", "`+hex.EncodeToString(tampered)+`"]}`))
	if r.problem.TxIndex == nil || *r.problem.TxIndex != 1 || !strings.Contains(r.problem.Detail, "nothing in the batch was submitted") {
		t.Errorf("bad signature problem does not name tx 1: %+v", r.problem)
	}
	wantProblem(t, "no route", do(t, http.MethodGet, n.URL()+"/v2/nothing", "", nil), 404, api.ProblemNoRoute)
	wantProblem(t, "wrong method", do(t, http.MethodDelete, n.URL()+"/v1/kv/base", "", nil), 405, api.ProblemMethod)
	wantProblem(t, "GET submit", do(t, http.MethodGet, url, "", nil), 405, api.ProblemMethod)
	wantProblem(t, "bad height", do(t, http.MethodGet, n.URL()+"/v1/kv/base?height=-1", "", nil), 400, api.ProblemBadRequest)
	wantProblem(t, "bad resume id", do(t, http.MethodGet, n.URL()+"/v1/events", "", nil, "Last-Event-ID", "x.y"), 400, api.ProblemBadRequest)
	wantProblem(t, "bad authorization", do(t, http.MethodGet, n.URL()+"/v1/kv/base", "", nil, "Authorization", "Basic Zm9vOmJhcg=="), 403, "UNAUTHORIZED")

	// Nothing changed: the same app hash, an empty mempool, no such key.
	if after := appHash(t, n); after != before {
		t.Errorf("app hash moved from %s to %s", before, after)
	}
	if size := n.Node.CometNode().Mempool().Size(); size != 0 {
		t.Errorf("%d txs reached the mempool", size)
	}
	wantProblem(t, "nothing written", do(t, http.MethodGet, n.URL()+"/v1/kv/should-not-exist", "", nil), 404, "NOT_FOUND")
}

func TestRateLimitPerClient(t *testing.T) {
	n := testnode.Start(t, testnode.Options{Gateway: func(c *rest.Config) {
		c.RateLimit, c.RateBurst = 0.5, 2
	}})
	for i := range 2 {
		if r := do(t, http.MethodGet, n.URL()+"/v1/status", "", nil); r.status != 200 {
			t.Fatalf("request %d: %d", i, r.status)
		}
	}
	r := do(t, http.MethodGet, n.URL()+"/v1/status", "", nil)
	wantProblem(t, "over the limit", r, 429, api.ProblemRateLimited)
	if r.problem.RetryAfterSeconds < 1 {
		t.Errorf("no retry_after_seconds: %+v", r.problem)
	}
	// Health checks are not limited.
	if r := do(t, http.MethodGet, n.URL()+"/healthz", "", nil); r.status != 200 {
		t.Errorf("healthz limited: %d", r.status)
	}
}

func TestCommitTimeoutIsPending(t *testing.T) {
	n := testnode.Start(t, testnode.Options{TimeoutCommit: 200 * time.Millisecond})
	c, err := client.NewREST(n.URL())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sub, err := c.Subscribe(ctx, "slow", client.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	// A tx cannot be in a block within 1 ms: it comes back pending.
	tx := signTx(t, n, n.Admin, put("slow", "1"))
	r := postJSON(t, n, api.SubmitRequest{Tx: hex.EncodeToString(tx), Mode: api.ModeCommit, TimeoutMS: 1})
	wantProblem(t, "timeout", r, 504, api.ProblemCommitTimeout)
	if r.problem.TxHash != types.TxHashHex(tx) {
		t.Errorf("timeout problem without the hash: %+v", r.problem)
	}
	// It still commits, and then its result can be read by hash.
	select {
	case ev := <-sub.Events():
		if ev.TxHash != types.TxHashHex(tx) {
			t.Fatalf("unexpected event %+v", ev)
		}
	case <-ctx.Done():
		t.Fatal("the pending tx never committed")
	}
	if res, err := c.Tx(ctx, types.TxHash(tx)); err != nil || res.Code != 0 {
		t.Fatalf("tx result: %+v %v", res, err)
	}
}
