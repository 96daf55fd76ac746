package privval_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/cometbft/cometbft/libs/protoio"
	privvalproto "github.com/cometbft/cometbft/proto/tendermint/privval"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/dstt/dstt/consensus/privval"
)

// pipeNode is the node's side of in-memory remote-signer connections: each
// dial hands Serve a fresh net.Pipe whose other end arrives on conns.
type pipeNode struct{ conns chan net.Conn }

func (n *pipeNode) dial() (net.Conn, error) {
	signer, node := net.Pipe()
	n.conns <- node
	return signer, nil
}

func (n *pipeNode) next(t *testing.T) net.Conn {
	t.Helper()
	select {
	case c := <-n.conns:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("the signer did not dial the node")
		return nil
	}
}

// ask sends req on conn and reads the signer's answer, with a deadline.
func ask(t *testing.T, conn net.Conn, req privvalproto.Message) privvalproto.Message {
	t.Helper()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := protoio.NewDelimitedWriter(conn).WriteMsg(&req); err != nil {
		t.Fatal(err)
	}
	var res privvalproto.Message
	if _, err := protoio.NewDelimitedReader(conn, 1<<20).ReadMsg(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

func TestServeAnswersRedialsAndStops(t *testing.T) {
	node := &pipeNode{conns: make(chan net.Conn, 4)}
	pv := cmttypes.NewMockPV()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- privval.Serve(ctx, node.dial, pv, testChain, nil) }()

	conn := node.next(t)
	if res := ask(t, conn, privvalproto.Message{Sum: &privvalproto.Message_PingRequest{PingRequest: &privvalproto.PingRequest{}}}); res.GetPingResponse() == nil {
		t.Fatalf("ping: %v", res)
	}
	v := vote(cmtproto.PrevoteType, 3, 0, blockID(1), time.Unix(1700000000, 0).UTC())
	res := ask(t, conn, privvalproto.Message{Sum: &privvalproto.Message_SignVoteRequest{SignVoteRequest: &privvalproto.SignVoteRequest{Vote: v, ChainId: testChain}}})
	if sv := res.GetSignedVoteResponse(); sv == nil || sv.Error != nil || len(sv.Vote.Signature) == 0 {
		t.Fatalf("sign vote: %v", res)
	}
	// A request for another chain is refused in the answer; the
	// connection stays up.
	res = ask(t, conn, privvalproto.Message{Sum: &privvalproto.Message_SignVoteRequest{SignVoteRequest: &privvalproto.SignVoteRequest{Vote: v, ChainId: "other"}}})
	if sv := res.GetSignedVoteResponse(); sv == nil || sv.Error == nil {
		t.Fatalf("sign for another chain: %v", res)
	}
	if res := ask(t, conn, privvalproto.Message{Sum: &privvalproto.Message_PingRequest{PingRequest: &privvalproto.PingRequest{}}}); res.GetPingResponse() == nil {
		t.Fatalf("ping after a refusal: %v", res)
	}

	// The node drops the connection: the signer dials again.
	conn.Close()
	conn = node.next(t)
	if res := ask(t, conn, privvalproto.Message{Sum: &privvalproto.Message_PingRequest{PingRequest: &privvalproto.PingRequest{}}}); res.GetPingResponse() == nil {
		t.Fatalf("ping after redial: %v", res)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context was cancelled")
	}
}
