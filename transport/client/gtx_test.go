package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dstt/dstt/transport/client"
	"github.com/dstt/dstt/transport/client/cometrpc"
	"github.com/dstt/dstt/transport/internal/testnode"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// A saga through the SDK on a real node: BeginGtx, the pending work, a
// participant's signed answer, AwaitGtx; the reads agree over the gateway
// and over CometBFT's RPC.
func TestGtxThroughTheSDK(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	c := n.AdminClient(t)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	if _, err := c.RegisterParticipant(ctx, &types.RegisterParticipant{Id: "bank1", Org: "org1", PubKey: typestest.Key("p1").PubKey(), Endpoint: "https://bank1.test/gtx"}); err != nil {
		t.Fatal(err)
	}
	b := typestest.Saga("sdk-1", time.Now().Add(time.Hour).UnixMilli(), "bank1")
	if _, err := c.BeginGtx(ctx, b); err != nil {
		t.Fatal(err)
	}
	rpc := cometrpc.NewFromRPC(n.Node.Client())
	defer rpc.Close()
	for name, cl := range map[string]*client.Client{"gateway": c, "rpc": rpc} {
		p, err := cl.GtxPending(ctx, &types.GtxPendingRequest{})
		if err != nil || len(p.Work) != 1 || p.Work[0].Endpoint != "https://bank1.test/gtx" || string(p.Work[0].Payload) != "sdk-1/0/action" {
			t.Fatalf("%s: pending %+v %v", name, p, err)
		}
		part, err := cl.Participant(ctx, "bank1")
		if err != nil || part.Org != "org1" {
			t.Fatalf("%s: participant %+v %v", name, part, err)
		}
		l, err := cl.GtxList(ctx, &types.GtxListRequest{OpenOnly: true, Limit: 5})
		if err != nil || len(l.Gtxs) != 1 || l.Gtxs[0].Gid != "sdk-1" {
			t.Fatalf("%s: list %+v %v", name, l, err)
		}
		if _, err := cl.Gtx(ctx, "nosuch"); !errors.Is(err, client.ErrNotFound) {
			t.Fatalf("%s: an unknown gtx: %v", name, err)
		}
	}
	var phases []types.GtxPhase
	done := make(chan *types.Gtx, 1)
	go func() {
		g, err := c.AwaitGtx(ctx, "sdk-1", 10*time.Millisecond, func(g *types.Gtx) { phases = append(phases, g.Phase) })
		if err != nil {
			t.Error(err)
		}
		done <- g
	}()
	answer := typestest.Answer(t, n.ChainID, b, 0, types.GtxOp_GTX_OP_ACTION, 1, types.GtxStatus_GTX_STATUS_SUCCEEDED, "p1")
	if _, err := c.SubmitOps(ctx, answer); err != nil {
		t.Fatal(err)
	}
	var g *types.Gtx
	select {
	case g = <-done:
	case <-ctx.Done():
		t.Fatal("AwaitGtx did not return")
	}
	if g == nil || g.Phase != types.GtxPhase_GTX_PHASE_COMMITTED || phases[len(phases)-1] != types.GtxPhase_GTX_PHASE_COMMITTED {
		t.Fatalf("awaited %+v, phases seen %v", g, phases)
	}
	if s := g.Steps[0]; s.Signer != typestest.Addr("p1") || s.Submitter != types.Address(n.Admin.PubKey()) || s.AnswerHeight == 0 {
		t.Fatalf("the journal: %+v", s)
	}
	// The same answer again: a harmless duplicate, refused with its code.
	_, err := c.SubmitOps(ctx, answer)
	var te *client.TxError
	if !errors.As(err, &te) || te.Code != types.CodeGtxDuplicateAnswer {
		t.Fatalf("a duplicate answer: %v", err)
	}
}
