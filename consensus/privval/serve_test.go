package privval_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/libs/protoio"
	"github.com/cometbft/cometbft/lp2p"
	cmtprivval "github.com/cometbft/cometbft/privval"
	privvalproto "github.com/cometbft/cometbft/proto/tendermint/privval"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dstt/dstt/consensus"
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

// unavailablePV is a validator key whose Vault is away: it signs nothing.
type unavailablePV struct{ cmttypes.PrivValidator }

func (unavailablePV) SignVote(string, *cmtproto.Vote) error {
	return fmt.Errorf("%w: sealed", privval.ErrVaultUnavailable)
}

// A request Vault could not sign in time is not answered with an error
// (final for the node) but handed back: the connection is dropped and the
// signer redials, so the node asks again.
func TestServeHandsBackWhileVaultUnavailable(t *testing.T) {
	node := &pipeNode{conns: make(chan net.Conn, 4)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = privval.Serve(ctx, node.dial, unavailablePV{cmttypes.NewMockPV()}, testChain, nil) }()

	conn := node.next(t)
	v := vote(cmtproto.PrevoteType, 3, 0, blockID(1), time.Unix(1700000000, 0).UTC())
	req := privvalproto.Message{Sum: &privvalproto.Message_SignVoteRequest{SignVoteRequest: &privvalproto.SignVoteRequest{Vote: v, ChainId: testChain}}}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := protoio.NewDelimitedWriter(conn).WriteMsg(&req); err != nil {
		t.Fatal(err)
	}
	var res privvalproto.Message
	if _, err := protoio.NewDelimitedReader(conn, 1<<20).ReadMsg(&res); !errors.Is(err, io.EOF) {
		t.Fatalf("the signer answered (%v) instead of dropping the connection: %v", err, res)
	}
	conn = node.next(t) // redialled: the node can ask again
	if res := ask(t, conn, privvalproto.Message{Sum: &privvalproto.Message_PingRequest{PingRequest: &privvalproto.PingRequest{}}}); res.GetPingResponse() == nil {
		t.Fatalf("ping after the hand-back: %v", res)
	}
}

// syncLog is a log sink a test can wait on.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) waitFor(t *testing.T, want string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		l.mu.Lock()
		s := l.b.String()
		l.mu.Unlock()
		if strings.Contains(s, want) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q not logged within 20s:\n%s", want, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A noise:// peer id that does not match, on either side, is an error in
// the signer's log (not silence), and the signer keeps trying.
func TestServeLogsWrongNoisePeer(t *testing.T) {
	nodeKey, signerKey, otherKey := cmted25519.GenPrivKey(), cmted25519.GenPrivKey(), cmted25519.GenPrivKey()
	peerID := func(k cmted25519.PrivKey) string {
		id, err := lp2p.IDFromPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return id.String()
	}
	for _, c := range []struct {
		name             string
		dialPeer         string // the node peer id the signer dials
		allowed          cmted25519.PrivKey
		want, wantDetail string
	}{
		{"wrong node peer id", peerID(otherKey), signerKey, "cannot connect to the node", "is " + peerID(otherKey) + " the node's peer id"},
		{"node allows another signer", peerID(nodeKey), otherKey, "cannot connect to the node", "closed the connection before asking anything"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			allowed, _ := peer.Decode(peerID(c.allowed))
			nl, err := cmtprivval.NewNoiseListener(ln, nodeKey, []peer.ID{allowed})
			if err != nil {
				t.Fatal(err)
			}
			defer nl.Close()
			go func() {
				for {
					conn, err := nl.Accept()
					if errors.Is(err, net.ErrClosed) {
						return
					}
					if err == nil {
						conn.Close()
					}
				}
			}()
			addr, err := consensus.ParseSignerAddress("noise://" + c.dialPeer + "@" + ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			dial, err := privval.NodeDialer(addr, signerKey)
			if err != nil {
				t.Fatal(err)
			}
			var logs syncLog
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				_ = privval.Serve(ctx, dial, cmttypes.NewMockPV(), testChain, slog.New(slog.NewTextHandler(&logs, nil)))
			}()
			if s := logs.waitFor(t, c.want); !strings.Contains(s, c.wantDetail) || !strings.Contains(s, "level=ERROR") {
				t.Fatalf("log does not say what is wrong:\n%s", s)
			}
		})
	}
}
