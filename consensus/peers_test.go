package consensus

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/abci/example/kvstore"
	cfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/crypto/secp256k1"
	"github.com/cometbft/cometbft/lp2p"
	"github.com/cometbft/cometbft/types"
)

// testNetwork initialises n homes that share one genesis (every node a validator) and
// name each other as peers on transport.
func testNetwork(t *testing.T, n int, transport string) ([]*Home, []NodeKeys, []InitOptions) {
	t.Helper()
	keys := make([]NodeKeys, n)
	vals := make([]types.GenesisValidator, n)
	opts := make([]InitOptions, n)
	for i := range n {
		keys[i] = GenerateNodeKeys()
		vals[i] = types.GenesisValidator{PubKey: keys[i].ValidatorPubKey(), Power: ValidatorPower, Name: "v" + string(rune('0'+i))}
		opts[i] = testOptions(t)
		opts[i].AppState = nil
		opts[i].ChainID = ""
		opts[i].Moniker = "v" + string(rune('0'+i))
		opts[i].Keys = &keys[i]
		opts[i].Transport = transport
		opts[i].PrometheusListen = strings.TrimPrefix(freeAddr(t), "tcp://")
	}
	gen, err := NewGenesis("dstt-multi", time.Now(), vals, []byte(`{"k":"v"}`))
	if err != nil {
		t.Fatal(err)
	}
	homes := make([]*Home, n)
	for i := range n {
		opts[i].Genesis = gen
		for j := range n {
			if j != i {
				opts[i].Peers = append(opts[i].Peers, Peer{NodeKey: keys[j].NodeKey.PubKey(), Address: strings.TrimPrefix(opts[j].P2PListen, "tcp://")})
			}
		}
		h, err := InitHome(opts[i])
		if err != nil {
			t.Fatalf("InitHome %d: %v", i, err)
		}
		homes[i] = h
	}
	return homes, keys, opts
}

func TestInitHomeSharedGenesisKeysAndPeers(t *testing.T) {
	homes, keys, opts := testNetwork(t, 3, TransportTCP)
	first, err := os.ReadFile(homes[0].GenesisFile())
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range homes {
		data, err := os.ReadFile(h.GenesisFile())
		if err != nil || !bytes.Equal(data, first) {
			t.Errorf("home %d: genesis differs from home 0's (%v)", i, err)
		}
		gen, err := h.Genesis()
		if err != nil || gen.ChainID != "dstt-multi" || len(gen.Validators) != 3 {
			t.Fatalf("home %d genesis: %+v %v", i, gen, err)
		}
		if id, _ := h.NodeID(); id != keys[i].NodeID() {
			t.Errorf("home %d: node id %s, want the given key's %s", i, id, keys[i].NodeID())
		}
		if pub, _ := h.ValidatorPubKey(); !pub.Equals(keys[i].ValidatorPubKey()) {
			t.Errorf("home %d: validator key is not the given one", i)
		}
		c, err := h.Config()
		if err != nil {
			t.Fatal(err)
		}
		peers := strings.Split(c.P2P.PersistentPeers, ",")
		if len(peers) != 2 {
			t.Fatalf("home %d persistent_peers %q", i, c.P2P.PersistentPeers)
		}
		for _, p := range peers {
			id, addr, _ := strings.Cut(p, "@")
			if id == keys[i].NodeID() {
				t.Errorf("home %d lists itself as a peer", i)
			}
			j := -1
			for k := range keys {
				if keys[k].NodeID() == id {
					j = k
				}
			}
			if j < 0 || "tcp://"+addr != opts[j].P2PListen {
				t.Errorf("home %d: peer %s is no node's ID@laddr", i, p)
			}
		}
		if c.P2P.LibP2PConfig.Enabled {
			t.Errorf("home %d: libp2p enabled on the tcp transport", i)
		}
		if c.Instrumentation.PrometheusListenAddr != opts[i].PrometheusListen {
			t.Errorf("home %d: prometheus %s, want %s", i, c.Instrumentation.PrometheusListenAddr, opts[i].PrometheusListen)
		}
		p, err := h.AsPeer()
		if err != nil || !p.NodeKey.Equals(keys[i].NodeKey.PubKey()) || "tcp://"+p.Address != opts[i].P2PListen {
			t.Errorf("home %d AsPeer = %+v, %v", i, p, err)
		}
	}
}

func TestLibP2PConfig(t *testing.T) {
	homes, keys, opts := testNetwork(t, 3, TransportLibP2P)
	for i, h := range homes {
		// The ID we derive from the public key is the one CometBFT's libp2p host will
		// use, which it derives from the private key.
		want, err := lp2p.IDFromPrivateKey(keys[i].NodeKey)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := h.LibP2PID(); err != nil || got != want.String() {
			t.Errorf("home %d LibP2PID = %s, %v; want %s", i, got, err, want)
		}
		c, err := h.Config()
		if err != nil {
			t.Fatal(err)
		}
		lc := c.P2P.LibP2PConfig
		if !lc.Enabled || c.P2P.PersistentPeers != "" || len(lc.BootstrapPeers) != 2 {
			t.Fatalf("home %d: libp2p %+v, persistent_peers %q", i, lc, c.P2P.PersistentPeers)
		}
		for _, bp := range lc.BootstrapPeers {
			if !bp.Persistent || bp.Private || bp.Unconditional {
				t.Errorf("home %d: bootstrap peer flags %+v", i, bp)
			}
			found := false
			for j := range keys {
				id, _ := LibP2PID(keys[j].NodeKey.PubKey())
				if j != i && bp.ID == id && "tcp://"+bp.Host == opts[j].P2PListen {
					found = true
				}
			}
			if !found {
				t.Errorf("home %d: bootstrap peer %+v is no other node", i, bp)
			}
		}
	}
}

func TestInitOptionsValidatePeersKeysGenesis(t *testing.T) {
	self := GenerateNodeKeys()
	other := GenerateNodeKeys()
	gen, err := NewGenesis("chain-a", time.Now(), []types.GenesisValidator{{PubKey: self.ValidatorPubKey(), Power: 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = InitOptions{
		ChainID:          "chain-b",
		AppState:         []byte(`{}`),
		GenesisTime:      time.Now(),
		Genesis:          gen,
		Keys:             &NodeKeys{NodeKey: secp256k1.GenPrivKey(), ValidatorKey: self.ValidatorKey},
		Transport:        "udp",
		PrometheusListen: "nohost",
		Peers: []Peer{
			{NodeKey: other.NodeKey.PubKey(), Address: "127.0.0.1"},
			{NodeKey: other.NodeKey.PubKey(), Address: "127.0.0.1:1"},
			{NodeKey: other.NodeKey.PubKey(), Address: "127.0.0.1:2"},
			{NodeKey: nil, Address: "127.0.0.1:3"},
		},
	}.Validate()
	if !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("Validate = %v", err)
	}
	for _, want := range []string{
		`chain id "chain-b" differs from the genesis's "chain-a"`, "app state is set together with a genesis",
		"genesis time is set together", "node key: want an ed25519 key", `transport "udp"`,
		"prometheus listen address", "peer 0: address", "peer 2: same node key as peer 1", "peer 3: want an ed25519 node key",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q: %v", want, err)
		}
	}
	err = InitOptions{Keys: &self, Peers: []Peer{{NodeKey: self.NodeKey.PubKey(), Address: "127.0.0.1:9"}}}.Validate()
	if err == nil || !strings.Contains(err.Error(), "this node itself") {
		t.Errorf("a node listing itself as a peer: %v", err)
	}
	// With a genesis, the chain id comes from it.
	if err := (InitOptions{Genesis: gen}).Validate(); err != nil {
		t.Errorf("genesis only: %v", err)
	}
	if _, err := NewConfig(t.TempDir(), InitOptions{Transport: "quic"}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("NewConfig with a bad transport: %v", err)
	}
}

// TestInitHomeGenesisIsCopied: InitHome must not touch the caller's genesis document
// (one document serves every home of a network).
func TestInitHomeGenesisIsCopied(t *testing.T) {
	k := GenerateNodeKeys()
	vals := []types.GenesisValidator{{PubKey: k.ValidatorPubKey(), Power: 5}}
	gen := &types.GenesisDoc{ChainID: "copy-test", GenesisTime: time.Now().UTC(), Validators: vals}
	opts := testOptions(t)
	opts.ChainID, opts.AppState, opts.Genesis, opts.Keys = "", nil, gen, &k
	h, err := InitHome(opts)
	if err != nil {
		t.Fatal(err)
	}
	if gen.ConsensusParams != nil || gen.Validators[0].Address != nil {
		t.Error("InitHome completed the caller's genesis in place")
	}
	written, err := h.Genesis()
	if err != nil || written.ConsensusParams == nil || len(written.Validators[0].Address) == 0 {
		t.Fatalf("written genesis not completed: %+v %v", written, err)
	}
}

// TestValidatorsCommitTogether runs two in-process validators on each transport. Each
// holds half the power, so nothing commits unless the two reach each other through
// the peers InitHome wrote.
func TestValidatorsCommitTogether(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real CometBFT nodes")
	}
	for _, transport := range []string{TransportTCP, TransportLibP2P} {
		t.Run(transport, func(t *testing.T) {
			homes, _, _ := testNetwork(t, 2, transport)
			var nodes []*Node
			for _, h := range homes {
				n, err := NewNode(h, kvstore.NewInMemoryApplication(), nil)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = n.Stop() })
				if err := n.Start(); err != nil {
					t.Fatal(err)
				}
				nodes = append(nodes, n)
			}
			// The first block needs both validators' precommits.
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			for _, n := range nodes {
				if err := WaitForHeight(ctx, n.Client(), 1); err != nil {
					t.Fatal(err)
				}
			}
			h := commitTx(t, nodes[0].Client(), "who=both")
			if err := WaitForHeight(ctx, nodes[1].Client(), h); err != nil {
				t.Fatal(err)
			}
			// The block store reports height h before the app has applied
			// block h: read until the value shows, with a deadline.
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for got := queryKey(t, nodes[1].Client(), "who"); got != "both"; got = queryKey(t, nodes[1].Client(), "who") {
				select {
				case <-ctx.Done():
					t.Fatalf("second validator reads %q", got)
				case <-tick.C:
				}
			}
		})
	}
}

// The IDs a node without chain state admits are the operator's: persistent
// peers, seeds and unconditional peers, nothing else from config.toml.
func TestConfiguredPeerIDs(t *testing.T) {
	c := cfg.DefaultConfig()
	c.P2P.PersistentPeers = " aa11@10.0.0.1:26656, bb22@10.0.0.2:26656 ,"
	c.P2P.Seeds = "cc33@seed.example:26656"
	c.P2P.UnconditionalPeerIDs = "dd44"
	c.P2P.PrivatePeerIDs = "ee55" // not a list of peers to admit: a list of peers not to gossip
	got := strings.Join(ConfiguredPeerIDs(c), ",")
	if want := "aa11,bb22,cc33,dd44"; got != want {
		t.Fatalf("ConfiguredPeerIDs = %s, want %s", got, want)
	}
	if ids := ConfiguredPeerIDs(cfg.DefaultConfig()); len(ids) != 0 {
		t.Fatalf("no peers configured: %q", ids)
	}
}
