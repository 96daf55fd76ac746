package rest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/transport/internal/testnode"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// The gtx routes answer JSON views (protobuf on request: the SDK's tests
// cover it), with the journal's steps in words.
func TestGtxRoutes(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	c := n.AdminClient(t)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.RegisterParticipant(ctx, &types.RegisterParticipant{Id: "bank1", Org: "org1", PubKey: typestest.Key("p1").PubKey(), Endpoint: "http://bank1.test/"}); err != nil {
		t.Fatal(err)
	}
	b := typestest.TCC("rest-1", time.Now().Add(time.Hour).UnixMilli(), "bank1")
	if _, err := c.BeginGtx(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SubmitOps(ctx, typestest.Answer(t, n.ChainID, b, 0, types.GtxOp_GTX_OP_TRY, 1, types.GtxStatus_GTX_STATUS_FAILED, "p1")); err != nil {
		t.Fatal(err)
	}
	get := func(path string, code int) []byte {
		t.Helper()
		resp, err := http.Get(n.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != code {
			t.Fatalf("GET %s: %d %s, want %d", path, resp.StatusCode, body, code)
		}
		return body
	}
	get(api.PathGtxs+"/bad%20gid", http.StatusBadRequest)
	get(api.PathGtxs+"?limit=100000", http.StatusBadRequest)
	get(api.PathGtxs+"/nosuch", http.StatusNotFound)
	var g api.GtxView
	if err := json.Unmarshal(get(api.PathGtxs+"/rest-1", http.StatusOK), &g); err != nil {
		t.Fatal(err)
	}
	if g.Mode != "tcc" || g.Phase != "aborted" || g.AbortReason != "failed" || len(g.Steps) != 1 ||
		g.Steps[0].Op != "try" || g.Steps[0].State != "failed" || g.Steps[0].Status != "failed" || g.Steps[0].Signer != typestest.Addr("p1") {
		t.Fatalf("gtx view: %+v", g)
	}
	var l api.GtxListView
	if err := json.Unmarshal(get(api.PathGtxs+"?open=false&limit=1", http.StatusOK), &l); err != nil || len(l.Gtxs) != 1 || l.Gtxs[0].Phase != "aborted" {
		t.Fatalf("list: %+v %v", l, err)
	}
	var p api.GtxPendingView
	if err := json.Unmarshal(get(api.PathGtxPending+"?org=org1", http.StatusOK), &p); err != nil || len(p.Work) != 0 || p.Height == 0 {
		t.Fatalf("pending: %+v %v", p, err)
	}
	var part api.ParticipantView
	if err := json.Unmarshal(get(api.PathGtxParticipants+"bank1", http.StatusOK), &part); err != nil || part.Address != typestest.Addr("p1") {
		t.Fatalf("participant: %+v %v", part, err)
	}
}
