package rest_test

// One test per REST API surprise of the Interop issue: each failed before
// its fix. They run against a real node (testnode).

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/transport/client"
	"github.com/dstt/dstt/transport/internal/testnode"
	"github.com/dstt/dstt/types"
)

// Surprise 1: two identical signed reads in one millisecond are two reads
// (each header has its own random nonce); the same header twice is one.
func TestSignedReadsInOneMillisecond(t *testing.T) {
	n := testnode.Start(t, testnode.Options{RBAC: true})
	if o := commitOne(t, n, signTx(t, n, n.Admin, put("ms", "1"))); o.Status != api.StatusCommitted {
		t.Fatalf("setup: %+v", o)
	}
	at := time.Now()
	var headers []string
	for range 2 {
		sr, err := api.SignRead(n.Admin, n.ChainID, types.QueryGet, []byte("ms"), 0, at)
		if err != nil {
			t.Fatal(err)
		}
		headers = append(headers, sr.String())
	}
	if headers[0] == headers[1] {
		t.Fatal("two signed reads share a header: no nonce")
	}
	for i, h := range headers {
		if r := do(t, http.MethodGet, n.URL()+"/v1/kv/ms", "", nil, "Authorization", h); r.status != 200 {
			t.Fatalf("signed read %d of 2 in the same millisecond: %d %s", i+1, r.status, r.body)
		}
	}
	wantProblem(t, "a header used twice", do(t, http.MethodGet, n.URL()+"/v1/kv/ms", "", nil, "Authorization", headers[0]), 403, "UNAUTHORIZED")
}

// Surprise 2: a key absent at height H is "not found at H", not at the
// latest height.
func TestKVNotFoundReportsHeightRead(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	if o := commitOne(t, n, signTx(t, n, n.Admin, put("early", "v"))); o.Status != api.StatusCommitted {
		t.Fatalf("setup: %+v", o)
	}
	o := commitOne(t, n, signTx(t, n, n.Admin, put("late", "v")))
	if o.Status != api.StatusCommitted || o.Height < 2 {
		t.Fatalf("setup: %+v", o)
	}
	h := o.Height - 1
	r := do(t, http.MethodGet, fmt.Sprintf("%s/v1/kv/late?height=%d", n.URL(), h), "", nil)
	wantProblem(t, "key absent at H", r, 404, "NOT_FOUND")
	if r.problem.Height != h || r.problem.Key != "late" {
		t.Errorf("not found at height %d: the problem says height %d, key %q: %s", h, r.problem.Height, r.problem.Key, r.body)
	}
	// The latest height still reports the height it answered for.
	r = do(t, http.MethodGet, n.URL()+"/v1/kv/never", "", nil)
	wantProblem(t, "key absent now", r, 404, "NOT_FOUND")
	if r.problem.Height < o.Height {
		t.Errorf("latest read: height %d, want at least %d", r.problem.Height, o.Height)
	}
}

// Surprise 3: the same tx twice in one batch is submitted, committed and
// counted once; the copy is refused as a REPLAY naming its first copy.
func TestBatchDuplicateSubmittedOnce(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	tx := hex.EncodeToString(signTx(t, n, n.Admin, put("dup", "1")))
	other := hex.EncodeToString(signTx(t, n, n.Admin, put("dup2", "1")))
	r := postJSON(t, n, api.SubmitRequest{Txs: []string{tx, other, tx}, Mode: api.ModeCommit})
	var sr api.SubmitResponse
	if r.status != 200 || json.Unmarshal(r.body, &sr) != nil || len(sr.Results) != 3 {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	if sr.Committed != 2 || sr.Rejected != 1 {
		t.Errorf("counted committed %d, rejected %d; want 2 and 1: %s", sr.Committed, sr.Rejected, r.body)
	}
	d := sr.Results[2]
	if d.Status != api.StatusRejected || d.CodeName != "REPLAY" || d.Code != uint32(types.CodeReplay) ||
		d.DuplicateOf == nil || *d.DuplicateOf != 0 || !strings.Contains(d.Log, "tx 0") {
		t.Errorf("the copy: %+v", d)
	}
	if sr.Results[0].Status != api.StatusCommitted {
		t.Errorf("the first copy: %+v", sr.Results[0])
	}
}

// Surprise 4: every outcome has a code_name; index only with a height.
func TestOutcomeCodeNameAndIndex(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	r := postJSON(t, n, api.SubmitRequest{Txs: []string{hex.EncodeToString(signTx(t, n, n.Admin, put("s", "1")))}})
	var raw struct {
		Results []map[string]any `json:"results"`
	}
	if r.status != 200 || json.Unmarshal(r.body, &raw) != nil || len(raw.Results) != 1 {
		t.Fatalf("sync: %d %s", r.status, r.body)
	}
	o := raw.Results[0]
	if o["status"] != api.StatusAdmitted || o["code_name"] != "OK" {
		t.Errorf("sync outcome without a code name: %s", r.body)
	}
	if _, ok := o["index"]; ok {
		t.Errorf("sync outcome has an index without a height: %s", r.body)
	}
	// Commit mode: both.
	r = postJSON(t, n, api.SubmitRequest{Txs: []string{hex.EncodeToString(signTx(t, n, n.Admin, put("c", "1")))}, Mode: api.ModeCommit})
	if r.status != 200 || json.Unmarshal(r.body, &raw) != nil || len(raw.Results) != 1 {
		t.Fatalf("commit: %d %s", r.status, r.body)
	}
	o = raw.Results[0]
	_, hasH := o["height"]
	idx, hasI := o["index"]
	if o["code_name"] != "OK" || !hasH || !hasI || idx == nil {
		t.Errorf("committed outcome: %s", r.body)
	}
}

// Surprise 5: resubmitting a tx that failed says it was already committed
// and how it ended (CONFLICT, at height H), in the detail and in fields.
func TestReplayOfFailedTxReportsOriginalOutcome(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	raw := signTx(t, n, n.Admin, check("absent", types.Version{Height: 1}), put("absent", "x"))
	o := commitOne(t, n, raw)
	if o.Status != api.StatusFailed || o.CodeName != "CONFLICT" {
		t.Fatalf("setup: want a CONFLICT, got %+v", o)
	}
	// Alone: a REPLAY problem carrying the original result.
	r := postJSON(t, n, api.SubmitRequest{Tx: hex.EncodeToString(raw), Mode: api.ModeCommit})
	wantProblem(t, "resubmitted failed tx", r, 409, "REPLAY")
	p := r.problem
	if p.Original == nil || p.Original.CodeName != "CONFLICT" || p.Original.Height != o.Height || p.Original.Index != o.Index || p.Original.Hash != o.Hash || p.Height != o.Height {
		t.Errorf("problem fields do not give the original outcome: %s", r.body)
	}
	for _, want := range []string{"FAILED", "CONFLICT", fmt.Sprintf("height %d", o.Height), "nothing of it was applied"} {
		if !strings.Contains(p.Detail, want) {
			t.Errorf("detail lacks %q: %s", want, p.Detail)
		}
	}
	if strings.Contains(p.Detail, "committed before;") {
		t.Errorf("detail still says only 'committed before': %s", p.Detail)
	}
	// In a batch: the outcome carries it too.
	r = postJSON(t, n, api.SubmitRequest{Txs: []string{hex.EncodeToString(raw)}})
	var sr api.SubmitResponse
	if r.status != 200 || json.Unmarshal(r.body, &sr) != nil || len(sr.Results) != 1 {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	if b := sr.Results[0]; b.CodeName != "REPLAY" || b.Original == nil || b.Original.CodeName != "CONFLICT" || b.Original.Height != o.Height {
		t.Errorf("batch outcome: %+v", b)
	}
	// A tx that committed OK: REPLAY says its writes stand.
	okTx := signTx(t, n, n.Admin, put("fine", "1"))
	if o := commitOne(t, n, okTx); o.Status != api.StatusCommitted {
		t.Fatalf("setup: %+v", o)
	}
	r = postJSON(t, n, api.SubmitRequest{Tx: hex.EncodeToString(okTx)})
	wantProblem(t, "resubmitted committed tx", r, 409, "REPLAY")
	if r.problem.Original == nil || r.problem.Original.CodeName != "OK" || !strings.Contains(r.problem.Detail, "writes stand") {
		t.Errorf("committed tx replay: %s", r.body)
	}
}

// Surprise 6: history refuses a limit above the documented maximum, and a
// key never written has no history (404, as GET says).
func TestHistoryLimitAndMissingKey(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	if o := commitOne(t, n, signTx(t, n, n.Admin, put("h", "1"))); o.Status != api.StatusCommitted {
		t.Fatalf("setup: %+v", o)
	}
	r := do(t, http.MethodGet, n.URL()+"/v1/kv/h/history?limit=5000", "", nil)
	wantProblem(t, "limit 5000", r, 400, "BAD_QUERY")
	if !strings.Contains(r.problem.Detail, "5000") || !strings.Contains(r.problem.Detail, "1000") {
		t.Errorf("detail should name the limit and the maximum: %s", r.problem.Detail)
	}
	if r := do(t, http.MethodGet, n.URL()+"/v1/kv/h/history?limit=1000", "", nil); r.status != 200 {
		t.Errorf("limit 1000: %d %s", r.status, r.body)
	}
	r = do(t, http.MethodGet, n.URL()+"/v1/kv/never/history", "", nil)
	wantProblem(t, "history of a key never written", r, 404, "NOT_FOUND")
	if r.problem.Key != "never" {
		t.Errorf("problem key %q", r.problem.Key)
	}
	wantProblem(t, "get of a key never written", do(t, http.MethodGet, n.URL()+"/v1/kv/never", "", nil), 404, "NOT_FOUND")
	// A key whose only version is a delete (a put and a delete in one tx
	// keep the last write) has a history: that delete.
	d := commitOne(t, n, signTx(t, n, n.Admin, put("tomb", "x"), del("tomb")))
	if d.Status != api.StatusCommitted || len(d.Writes) != 1 || !d.Writes[0].Deleted {
		t.Fatalf("delete: %+v", d)
	}
	var h api.History
	r = do(t, http.MethodGet, n.URL()+"/v1/kv/tomb/history", "", nil)
	if r.status != 200 || json.Unmarshal(r.body, &h) != nil || len(h.Versions) != 1 || !h.Versions[0].Deleted {
		t.Errorf("history of a tombstone-only key: %d %s", r.status, r.body)
	}
}

// Surprise 7: GET of a deleted key says when it was deleted, and a check
// of it compares against version "0" (as docs/API.md says), not against
// the delete's version.
func TestDeletedKeyVersion(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	if o := commitOne(t, n, signTx(t, n, n.Admin, put("gone", "1"))); o.Status != api.StatusCommitted {
		t.Fatalf("put: %+v", o)
	}
	d := commitOne(t, n, signTx(t, n, n.Admin, del("gone")))
	if d.Status != api.StatusCommitted || len(d.Writes) != 1 || !d.Writes[0].Deleted {
		t.Fatalf("delete: %+v", d)
	}
	tomb := d.Writes[0].Version
	r := do(t, http.MethodGet, n.URL()+"/v1/kv/gone", "", nil)
	wantProblem(t, "deleted key", r, 404, "NOT_FOUND")
	if r.problem.DeletedVersion != tomb || !strings.Contains(r.problem.Detail, "deleted at version "+tomb) {
		t.Errorf("the problem does not say the key was deleted at %s: %s", tomb, r.body)
	}
	// Read before the delete: the value; at the delete's height: deleted.
	if r := do(t, http.MethodGet, fmt.Sprintf("%s/v1/kv/gone?height=%d", n.URL(), d.Height-1), "", nil); r.status != 200 {
		t.Errorf("read before the delete: %d %s", r.status, r.body)
	}
	// The history shows the delete at that version.
	var h api.History
	if r := do(t, http.MethodGet, n.URL()+"/v1/kv/gone/history", "", nil); json.Unmarshal(r.body, &h) != nil || len(h.Versions) != 2 || h.Versions[0].Version != tomb || !h.Versions[0].Deleted {
		t.Fatalf("history: %s", r.body)
	}
	// check(gone, tombstone version) conflicts; check(gone, "0") passes.
	v, err := types.ParseVersion(tomb)
	if err != nil {
		t.Fatal(err)
	}
	if o := commitOne(t, n, signTx(t, n, n.Admin, check("gone", v), put("gone", "2"))); o.CodeName != "CONFLICT" {
		t.Errorf("check against the delete's version: %+v, want CONFLICT", o)
	}
	if o := commitOne(t, n, signTx(t, n, n.Admin, check("gone", types.Version{}), put("gone", "3"))); o.Status != api.StatusCommitted {
		t.Errorf("check against version 0: %+v, want committed", o)
	}
}

// Surprise 8: an unsigned read refused on a chain with access control
// names the REST header to send, not a CLI flag.
func TestUnsignedReadRefusalNamesHeader(t *testing.T) {
	n := testnode.Start(t, testnode.Options{RBAC: true})
	if o := commitOne(t, n, signTx(t, n, n.Admin, put("closed", "1"))); o.Status != api.StatusCommitted {
		t.Fatalf("setup: %+v", o)
	}
	for _, path := range []string{"/v1/kv/closed", "/v1/kv/closed/history"} {
		r := do(t, http.MethodGet, n.URL()+path, "", nil)
		wantProblem(t, "unsigned "+path, r, 403, "UNAUTHORIZED")
		if !strings.Contains(r.problem.Detail, "Authorization: Dstt-Query") || strings.Contains(r.problem.Detail, "--from") || strings.Contains(r.problem.Detail, "dstt query") {
			t.Errorf("%s: the detail should name the Authorization header, not the CLI: %s", path, r.problem.Detail)
		}
	}
	// A signed read by someone without permission gets the node's reason.
	stranger := newKey(t)
	c, err := client.NewREST(n.URL(), client.WithReader(stranger))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Get(context.Background(), "closed", 0)
	if err == nil || !strings.Contains(err.Error(), "lacks read") {
		t.Errorf("signed read without permission: %v", err)
	}
}
