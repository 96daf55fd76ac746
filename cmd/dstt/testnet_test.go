package main

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dstt/dstt/consensus"
	"github.com/dstt/dstt/testnet"
)

// On libp2p the init table gives each node's P2P address as it listens:
// QUIC over UDP, as a multiaddr with the peer ID, not tcp://.
func TestTestnetInitPrintsTransportAddress(t *testing.T) {
	for _, transport := range []string{consensus.TransportTCP, consensus.TransportLibP2P} {
		nw, err := testnet.Generate(testnet.Options{Dir: filepath.Join(t.TempDir(), "net"), Validators: 2, Transport: transport, SkipPortCheck: true})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		printTestnetInit(&b, nw)
		out := b.String()
		for _, n := range nw.Nodes {
			port := strings.TrimPrefix(n.P2P, "tcp://127.0.0.1:")
			want := n.P2P
			if transport == consensus.TransportLibP2P {
				want = "/ip4/127.0.0.1/udp/" + port + "/quic-v1/p2p/" + n.LibP2PID
				if strings.Contains(out, n.P2P+" ") {
					t.Errorf("libp2p table names %s's P2P as %s:\n%s", n.Name, n.P2P, out)
				}
			}
			if !strings.Contains(out, n.Name+"  "+n.Org+"  "+want+"  ") || !strings.Contains(out, n.RESTURL()) {
				t.Errorf("%s table lacks %s's P2P %s or REST %s:\n%s", transport, n.Name, want, n.RESTURL(), out)
			}
		}
		if transport == consensus.TransportLibP2P && !strings.Contains(out, "transport libp2p (QUIC over UDP)") {
			t.Errorf("libp2p header:\n%s", out)
		}
	}
	// The flag leaves the base port to Generate (off the ephemeral range).
	if f := newTestnetInitCmd(&globals{}).Flags().Lookup("base-port"); f == nil || f.DefValue != "0" {
		t.Errorf("--base-port default %v", f)
	}
}

// A halted chain is not "ok": its answering nodes say halted, the quorum
// line gives the power online against the total, and a HALTED line why.
func TestTestnetStatusQuorumLine(t *testing.T) {
	st := []testnet.NodeStatus{
		{Name: "node1", Org: "org1", Process: testnet.ProcessRunning, PID: 7, Height: 5, Power: 10, Peers: 1},
		{Name: "node2", Org: "org2", Process: testnet.ProcessStale, PID: 8, Error: "connection refused"},
	}
	committed := time.Now().Add(-4 * time.Second)
	halted := testnet.Quorum{Height: 5, CommitTime: committed, AgeSeconds: 4, Validators: 2, Online: 1, TotalPower: 20, OnlinePower: 10,
		PendingTxs: 1, Halted: true, Reason: "10 of 20 voting power online, a block needs more than 2/3 (14)"}
	var b bytes.Buffer
	testnetReport{statuses: st, common: 5, quorum: halted}.print(&b)
	out := b.String()
	for _, want := range []string{
		"10     halted\n",
		"all answering nodes agree on block 5\n",
		"quorum: 10 of 20 voting power online (1 of 2 validators), more than 2/3 (14): NO; height 5 committed 4s ago; 1 txs pending\n",
		"HALTED: 10 of 20 voting power online, a block needs more than 2/3 (14)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, " ok\n") {
		t.Errorf("a node of a halted chain is ok:\n%s", out)
	}

	live := halted
	live.Online, live.OnlinePower, live.HasQuorum, live.Halted, live.Reason = 2, 20, true, false, ""
	b.Reset()
	testnetReport{statuses: st[:1], common: 5, quorum: live}.print(&b)
	if out := b.String(); !strings.Contains(out, "10     ok\n") || !strings.Contains(out, "20 of 20 voting power online (2 of 2 validators), more than 2/3 (14): yes") || strings.Contains(out, "HALTED") {
		t.Errorf("live chain:\n%s", out)
	}
	b.Reset()
	testnetReport{statuses: st[1:], quorumErr: errors.New("boom")}.print(&b)
	if out := b.String(); !strings.Contains(out, "quorum: unknown: boom") {
		t.Errorf("quorum unknown:\n%s", out)
	}
}
