package rest_test

// Helpers the gateway tests share: tx building and signing, raw HTTP
// requests and problem documents, and waits with deadlines.

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/dstt/dstt/rbac"
	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/transport/client"
	"github.com/dstt/dstt/transport/internal/testnode"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

var put, del, check = typestest.Put, typestest.Delete, typestest.Check

// allow is the op that adds the rule letting sub do act on obj in dom.
func allow(sub, dom, obj, act string) types.Op {
	return typestest.Policy(rbac.Rule{Subject: sub, Domain: dom, Object: obj, Action: act}, false)
}

// newKey is a fresh random key.
func newKey(t testing.TB) *security.LocalSigner {
	t.Helper()
	k, err := security.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// appHash is the app's last committed app hash (through the ABCI
// connection, so it never races the engine). An empty block keeps it: a
// request that changed nothing leaves it as it was.
func appHash(t testing.TB, n *testnode.Node) string {
	t.Helper()
	info, err := n.Node.Client().ABCIInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%X", info.Response.LastBlockAppHash)
}

// signTx signs ops for the test chain with s.
func signTx(t testing.TB, n *testnode.Node, s security.Signer, ops ...types.Op) []byte {
	t.Helper()
	info, err := n.Node.Client().ABCIInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	body := &types.TxBody{ChainId: n.ChainID, Nonce: client.RandomNonce(), ValidUntilHeight: uint64(info.Response.LastBlockHeight) + 500, Ops: ops}
	tx, err := security.SignTx(body, s)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

type response struct {
	status  int
	ctype   string
	body    []byte
	problem api.Problem
}

func do(t testing.TB, method, url, ctype string, body []byte, hdr ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: b}
	if r.ctype == api.ContentTypeProblem {
		if err := json.Unmarshal(b, &r.problem); err != nil {
			t.Fatalf("problem document does not decode: %v: %s", err, b)
		}
	}
	return r
}

func postJSON(t testing.TB, n *testnode.Node, v any) response {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, http.MethodPost, n.URL()+"/v1/txs", "application/json", b)
}

func wantProblem(t testing.TB, what string, r response, status int, code string) {
	t.Helper()
	if r.ctype != api.ContentTypeProblem || r.status != status || r.problem.Code != code || r.problem.Status != status ||
		r.problem.Type != api.ProblemTypePrefix+code || r.problem.Title == "" || r.problem.Detail == "" {
		t.Errorf("%s: got %d %s %s, want a %d %s problem document", what, r.status, r.ctype, r.body, status, code)
	}
}

// commitOne submits tx in commit mode and returns its outcome.
func commitOne(t testing.TB, n *testnode.Node, tx []byte) api.TxOutcome {
	t.Helper()
	r := postJSON(t, n, api.SubmitRequest{Txs: []string{hex.EncodeToString(tx)}, Mode: api.ModeCommit})
	var sr api.SubmitResponse
	if r.status != 200 || json.Unmarshal(r.body, &sr) != nil || len(sr.Results) != 1 {
		t.Fatalf("commit: %d %s", r.status, r.body)
	}
	return sr.Results[0]
}

func postTx(t *testing.T, n *testnode.Node, tx []byte) response {
	t.Helper()
	return postJSON(t, n, api.SubmitRequest{Tx: hex.EncodeToString(tx), Mode: api.ModeCommit})
}

// waitFor polls cond until it holds or d passes (then fails the test).
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		<-tick.C
	}
}

// metricValue reads one series from the gateway's metrics address.
func metricValue(t testing.TB, n *testnode.Node, series string) float64 {
	t.Helper()
	v, ok := seriesValue(t, n, series)
	if !ok {
		t.Fatalf("no series %s in the metrics", series)
	}
	return v
}

// seriesValue reads one series from the gateway's metrics address; false
// if the page has none.
func seriesValue(t testing.TB, n *testnode.Node, series string) (float64, bool) {
	t.Helper()
	resp, err := http.Get(n.Gateway.MetricsURL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v, true
}

// signedBy signs ops with every key in keys (ascending public keys, as the
// canonical envelope wants), however many the chain allows.
func signedBy(t testing.TB, n *testnode.Node, keys []*security.LocalSigner, ops ...types.Op) []byte {
	t.Helper()
	body := &types.TxBody{ChainId: n.ChainID, Nonce: uint64(time.Now().UnixNano()), ValidUntilHeight: 1 << 20, Ops: ops}
	bb, err := body.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	msg := types.SignBytes(n.ChainID, bb)
	sigs := make([]types.Signature, len(keys))
	for i, k := range keys {
		s, err := k.Sign(msg)
		if err != nil {
			t.Fatal(err)
		}
		sigs[i] = types.Signature{PubKey: k.PubKey(), Signature: s}
	}
	slices.SortFunc(sigs, func(a, b types.Signature) int { return bytes.Compare(a.PubKey, b.PubKey) })
	tx, err := (&types.Tx{BodyBytes: bb, Signatures: sigs}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return tx
}
