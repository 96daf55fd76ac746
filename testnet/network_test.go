package testnet_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dstt/dstt/abci/engine"
	"github.com/dstt/dstt/consensus"
	"github.com/dstt/dstt/security/keyring"
	"github.com/dstt/dstt/testnet"
)

func generate(t *testing.T, o testnet.Options) *testnet.Network {
	t.Helper()
	if o.Dir == "" {
		o.Dir = filepath.Join(t.TempDir(), "net")
	}
	o.SkipPortCheck = true
	nw, err := testnet.Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	return nw
}

func TestGenerateFourValidators(t *testing.T) {
	nw := generate(t, testnet.Options{})
	if len(nw.Nodes) != 4 || nw.ChainID != testnet.DefaultChainID || nw.Threshold != 0 || nw.Transport != consensus.TransportTCP {
		t.Fatalf("network %+v", nw)
	}
	loaded, err := testnet.Load(nw.Dir)
	if err != nil || len(loaded.Nodes) != 4 || loaded.Nodes[2].Home != nw.Nodes[2].Home {
		t.Fatalf("Load = %+v, %v", loaded, err)
	}

	var genesis []byte
	ports := map[string]string{}
	for i, n := range nw.Nodes {
		if n.Name != "node"+strconv.Itoa(i+1) || n.Org != "org"+strconv.Itoa(i+1) || !n.Genesis {
			t.Errorf("node %d: %+v", i, n)
		}
		// An ordinary home: `dstt start --home` can open it.
		h, err := consensus.OpenHome(n.Home)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(h.GenesisFile())
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			genesis = data
		} else if !bytes.Equal(data, genesis) {
			t.Errorf("%s: genesis differs from node1's", n.Name)
		}
		// Distinct ports across every node and every service.
		c, err := h.Config()
		if err != nil {
			t.Fatal(err)
		}
		for _, addr := range []string{c.P2P.ListenAddress, c.RPC.ListenAddress, c.Instrumentation.PrometheusListenAddr} {
			_, port, err := net.SplitHostPort(strings.TrimPrefix(addr, "tcp://"))
			if err != nil || !strings.Contains(addr, "127.0.0.1:") {
				t.Errorf("%s: address %q not on loopback (%v)", n.Name, addr, err)
			}
			if other, dup := ports[port]; dup {
				t.Errorf("port %s used by %s and %s", port, other, n.Name)
			}
			ports[port] = n.Name
		}
		if c.P2P.ListenAddress != n.P2P || n.P2PAddr != n.P2P || c.RPC.ListenAddress != n.RPC || c.Moniker != n.Name {
			t.Errorf("%s: config p2p %s rpc %s moniker %s; manifest %+v", n.Name, c.P2P.ListenAddress, c.RPC.ListenAddress, c.Moniker, n)
		}
		// Peers: every other node, none twice, not itself.
		var want []string
		for _, m := range nw.Nodes {
			if m.Name != n.Name {
				want = append(want, m.NodeID+"@"+strings.TrimPrefix(m.P2P, "tcp://"))
			}
		}
		got := strings.Split(c.P2P.PersistentPeers, ",")
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: persistent_peers %v, want %v", n.Name, got, want)
		}
		if id, _ := h.NodeID(); id != n.NodeID {
			t.Errorf("%s: node id %s, manifest %s", n.Name, id, n.NodeID)
		}
		if pub, _ := h.ValidatorPubKey(); hex.EncodeToString(pub.Bytes()) != n.ValidatorPubKey {
			t.Errorf("%s: validator key differs from the manifest", n.Name)
		}
		// The home's "dev" key is the org's admin.
		kr, err := keyring.Open(keyring.BackendTest, h.KeyringDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		k, err := kr.Show(testnet.AdminKeyName)
		if err != nil || k.Address != n.AdminAddress {
			t.Errorf("%s: dev key %+v, %v; manifest admin %s", n.Name, k, err, n.AdminAddress)
		}
	}

	h, _ := consensus.OpenHome(nw.Nodes[0].Home)
	gen, err := h.Genesis()
	if err != nil {
		t.Fatal(err)
	}
	if len(gen.Validators) != 4 {
		t.Fatalf("%d genesis validators", len(gen.Validators))
	}
	for i, v := range gen.Validators {
		if v.Power != consensus.ValidatorPower || hex.EncodeToString(v.PubKey.Bytes()) != nw.Nodes[i].ValidatorPubKey {
			t.Errorf("genesis validator %d: %+v", i, v)
		}
	}
	state, err := engine.DecodeGenesisState(gen.AppState)
	if err != nil {
		t.Fatal(err)
	}
	// Threshold 0: a majority of the member orgs, however many there are.
	if state.Threshold != 0 || len(state.Orgs) != 4 || len(state.Admins) != 4 {
		t.Fatalf("app state %+v", state)
	}
	for i, o := range state.Orgs {
		n := nw.Nodes[i]
		if o.ID != n.Org || !slices.Equal(o.Admins, []string{n.AdminAddress}) || !slices.Equal(o.Validators, []string{n.ValidatorPubKey}) {
			t.Errorf("org %d: %+v, node %+v", i, o, n)
		}
		if state.Admins[i] != n.AdminAddress {
			t.Errorf("genesis admin %d is %s, want %s", i, state.Admins[i], n.AdminAddress)
		}
	}
}

func TestGenerateLibP2P(t *testing.T) {
	nw := generate(t, testnet.Options{Validators: 3, Transport: consensus.TransportLibP2P, Threshold: 3})
	if nw.Threshold != 3 {
		t.Errorf("threshold %d", nw.Threshold)
	}
	h, _ := consensus.OpenHome(nw.Nodes[0].Home)
	gen, err := h.Genesis()
	if err != nil {
		t.Fatal(err)
	}
	if state, err := engine.DecodeGenesisState(gen.AppState); err != nil || state.Threshold != 3 {
		t.Errorf("--threshold 3 wrote %+v (%v)", state.Threshold, err)
	}
	for _, n := range nw.Nodes {
		h, err := consensus.OpenHome(n.Home)
		if err != nil {
			t.Fatal(err)
		}
		if id, _ := h.LibP2PID(); id != n.LibP2PID || !strings.HasPrefix(id, "12D3KooW") {
			t.Errorf("%s: libp2p id %s, manifest %s", n.Name, id, n.LibP2PID)
		}
		// Its P2P address is the QUIC/UDP multiaddr it listens on, not tcp://.
		port := strings.TrimPrefix(n.P2P, "tcp://127.0.0.1:")
		if want := "/ip4/127.0.0.1/udp/" + port + "/quic-v1/p2p/" + n.LibP2PID; n.P2PAddr != want {
			t.Errorf("%s: p2p_addr %q, want %q", n.Name, n.P2PAddr, want)
		}
		c, err := h.Config()
		if err != nil {
			t.Fatal(err)
		}
		if !c.P2P.LibP2PConfig.Enabled || c.P2P.PersistentPeers != "" || len(c.P2P.LibP2PConfig.BootstrapPeers) != 2 {
			t.Fatalf("%s: p2p %+v", n.Name, c.P2P)
		}
		for _, bp := range c.P2P.LibP2PConfig.BootstrapPeers {
			m := slices.IndexFunc(nw.Nodes, func(m testnet.Node) bool { return m.LibP2PID == bp.ID })
			if m < 0 || nw.Nodes[m].Name == n.Name || "tcp://"+bp.Host != nw.Nodes[m].P2P || !bp.Persistent {
				t.Errorf("%s: bootstrap peer %+v", n.Name, bp)
			}
		}
	}
}

func TestGenerateRefusesExistingTestnet(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "net")
	first := generate(t, testnet.Options{Dir: dir, Validators: 2})
	if _, err := testnet.Generate(testnet.Options{Dir: dir, Validators: 2, SkipPortCheck: true}); !errors.Is(err, testnet.ErrExists) {
		t.Fatalf("second Generate = %v, want ErrExists", err)
	}
	// Overwrite: a new chain (new validator keys), the same admin keys.
	second := generate(t, testnet.Options{Dir: dir, Validators: 2, Overwrite: true})
	for i := range first.Nodes {
		if first.Nodes[i].ValidatorPubKey == second.Nodes[i].ValidatorPubKey {
			t.Errorf("%s kept its validator key", first.Nodes[i].Name)
		}
		if first.Nodes[i].AdminAddress != second.Nodes[i].AdminAddress {
			t.Errorf("%s: overwrite replaced the admin key", first.Nodes[i].Name)
		}
	}
	// An unrelated directory's other files are left alone.
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	generate(t, testnet.Options{Dir: dir, Validators: 2, Overwrite: true})
	if data, err := os.ReadFile(filepath.Join(dir, "notes.txt")); err != nil || string(data) != "mine" {
		t.Errorf("overwrite touched a foreign file: %q %v", data, err)
	}
}

func TestOptionsValidate(t *testing.T) {
	err := testnet.Options{Validators: 51, Transport: "udp", BasePort: 80, Threshold: 60, ChainID: "bad chain", SnapshotInterval: 1 << 40}.Validate()
	if !errors.Is(err, testnet.ErrInvalidOptions) {
		t.Fatalf("Validate = %v", err)
	}
	for _, want := range []string{"validators 51", `transport "udp"`, "base port 80", "threshold 60", `chain id "bad chain"`, "snapshot_interval=1099511627776 is above"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q: %v", want, err)
		}
	}
	if err := (testnet.Options{Validators: -1}).Validate(); err == nil {
		t.Error("-1 validators accepted")
	}
	if err := (testnet.Options{BasePort: 65530}).Validate(); err == nil {
		t.Error("ports past 65535 accepted")
	}
	if err := (testnet.Options{Threshold: -1}).Validate(); err == nil {
		t.Error("threshold -1 accepted")
	}
	for n, k := range map[int]int{1: 1, 2: 2, 3: 2, 4: 3, 5: 3, 7: 4} {
		if got := testnet.MajorityOf(n); got != k {
			t.Errorf("MajorityOf(%d) = %d, want %d", n, got, k)
		}
	}
}

func TestGenerateReportsBusyPorts(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	// node1's RPC port (base+1) is the busy one.
	_, err = testnet.Generate(testnet.Options{Dir: filepath.Join(t.TempDir(), "net"), Validators: 1, BasePort: busy - 1})
	if !errors.Is(err, testnet.ErrPortInUse) || !strings.Contains(err.Error(), "tcp/"+strconv.Itoa(busy)) {
		t.Fatalf("Generate with a busy port = %v", err)
	}
}

func TestAddNode(t *testing.T) {
	nw := generate(t, testnet.Options{Validators: 2})
	_, n, err := testnet.AddNode(nw.Dir, testnet.AddNodeOptions{SkipPortCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	if n.Name != "node3" || n.Org != "org3" || n.Genesis || !strings.HasPrefix(n.Start, "dstt start --home "+n.Home) || n.P2PAddr != n.P2P {
		t.Errorf("added %+v", n)
	}
	if n.P2P != "tcp://127.0.0.1:"+strconv.Itoa(testnet.DefaultBasePort+2*testnet.PortsPerNode) {
		t.Errorf("added node's p2p %s", n.P2P)
	}
	loaded, err := testnet.Load(nw.Dir)
	if err != nil || len(loaded.Nodes) != 3 || loaded.Nodes[2].AdminAddress != n.AdminAddress {
		t.Fatalf("manifest after AddNode: %+v %v", loaded, err)
	}
	h, err := consensus.OpenHome(n.Home)
	if err != nil {
		t.Fatal(err)
	}
	g1, _ := os.ReadFile(filepath.Join(nw.Nodes[0].Home, "config", "genesis.json"))
	g3, _ := os.ReadFile(h.GenesisFile())
	if !bytes.Equal(g1, g3) {
		t.Error("the added node's genesis differs from the chain's")
	}
	c, err := h.Config()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range nw.Nodes {
		if !strings.Contains(c.P2P.PersistentPeers, m.NodeID+"@"+strings.TrimPrefix(m.P2P, "tcp://")) {
			t.Errorf("added node does not peer with %s: %q", m.Name, c.P2P.PersistentPeers)
		}
	}
	if _, _, err := testnet.AddNode(filepath.Join(t.TempDir(), "none"), testnet.AddNodeOptions{}); !errors.Is(err, testnet.ErrNotFound) {
		t.Errorf("AddNode without a testnet = %v", err)
	}
}
