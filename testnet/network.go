package testnet

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/cometbft/cometbft/lp2p"
	"github.com/cometbft/cometbft/types"

	"github.com/dstt/dstt/abci/engine"
	"github.com/dstt/dstt/consensus"
	"github.com/dstt/dstt/security/keyring"
	dtypes "github.com/dstt/dstt/types"
)

// Errors from Generate and Load; wrapped with details, test with errors.Is.
var (
	ErrInvalidOptions = errors.New("testnet: invalid options")
	ErrExists         = errors.New("testnet: directory already holds a testnet")
	ErrPortInUse      = errors.New("testnet: port in use")
	ErrNotFound       = errors.New("testnet: no testnet here")
	// ErrHalted: the chain cannot commit, or has not for too long (Quorum).
	ErrHalted = errors.New("testnet: chain halted")
)

// Defaults for Options fields left zero.
const (
	DefaultValidators = 4
	DefaultChainID    = "dstt-testnet"
	// DefaultBasePort lies below Linux's usual ephemeral port range
	// (32768-60999), so no outgoing connection takes a testnet port; on a
	// host whose range covers it the default moves (DefaultBasePortFor).
	DefaultBasePort = 26700
	DefaultDir      = "testnet/out"
	// PortsPerNode is the stride between nodes' ports: node i (1-based) listens on
	// BasePort + PortsPerNode*(i-1) + {0: P2P, 1: RPC, 2: Prometheus, 3: REST
	// gateway, 4: the gateway's metrics}.
	PortsPerNode = 10
	// portsUsed is how many of a node's PortsPerNode ports are assigned.
	portsUsed = 5
	// MaxValidators bounds N: one host, and the port range.
	MaxValidators = 50

	// AdminKeyName is each home's test-keyring key: its org's admin, also a genesis
	// admin (RBAC bootstrap), and the CLI's default signer in that home.
	AdminKeyName = "dev"
	// ManifestFile, in the network's directory, describes it (Network as JSON).
	ManifestFile = "testnet.json"

	host = "127.0.0.1"
)

// Options configures Generate. Zero values take the defaults.
type Options struct {
	Dir        string // the network's directory; homes are Dir/node1..nodeN. Default DefaultDir
	Validators int    // N; default DefaultValidators
	ChainID    string // default DefaultChainID
	// Transport is consensus.TransportTCP (default) or consensus.TransportLibP2P.
	Transport string
	// BasePort is node1's P2P port; see PortsPerNode. Default DefaultBasePort
	// (below the host's ephemeral port range; DefaultBasePortFor).
	BasePort int
	// Threshold fixes k, the org approvals a governance tx needs, in genesis. Zero (the
	// default) writes 0, which the engine reads as "a majority of the member orgs at
	// the time": k follows the consortium as orgs join and leave.
	Threshold int
	// SnapshotInterval sets the chain param snapshot_interval in genesis:
	// snapshots every that many heights, for backups and for nodes that join
	// by state sync (AddNodeOptions.StateSync). Zero (the default): none.
	SnapshotInterval uint64
	// Overwrite deletes an existing testnet in Dir first (its node homes and manifest).
	Overwrite bool
	// GenesisTime defaults to now.
	GenesisTime time.Time
	// SkipPortCheck skips checking that every port is free now.
	SkipPortCheck bool
	// Subnet, the first three octets of an IPv4 /24 ("10.77.3"), places each node in
	// a network namespace of its own with address SUBNET.i (netns.go); SetupNetns
	// creates them (as root). The port check is skipped: the addresses exist only then.
	Subnet string
}

func (o Options) withDefaults() Options {
	if o.Dir == "" {
		o.Dir = DefaultDir
	}
	if o.Validators == 0 {
		o.Validators = DefaultValidators
	}
	if o.ChainID == "" {
		o.ChainID = DefaultChainID
	}
	if o.Transport == "" {
		o.Transport = consensus.TransportTCP
	}
	if o.BasePort == 0 {
		o.BasePort = defaultBasePort()
	}
	return o
}

// Validate reports every problem with the options at once (after defaults).
func (o Options) Validate() error {
	o = o.withDefaults()
	var problems []string
	if o.Validators < 1 || o.Validators > MaxValidators {
		problems = append(problems, fmt.Sprintf("validators %d: want 1-%d", o.Validators, MaxValidators))
	}
	if o.Transport != consensus.TransportTCP && o.Transport != consensus.TransportLibP2P {
		problems = append(problems, fmt.Sprintf("transport %q: want %s or %s", o.Transport, consensus.TransportTCP, consensus.TransportLibP2P))
	}
	if last := o.BasePort + PortsPerNode*(o.Validators-1) + portsUsed - 1; o.BasePort < 1024 || last > 65535 {
		problems = append(problems, fmt.Sprintf("base port %d: the ports %d-%d must lie in 1024-65535", o.BasePort, o.BasePort, last))
	}
	if o.Threshold < 0 || o.Threshold > o.Validators {
		problems = append(problems, fmt.Sprintf("threshold %d: want 1-%d (k of the %d orgs), or 0 for a majority", o.Threshold, o.Validators, o.Validators))
	}
	if o.Subnet != "" && (!validSubnet(o.Subnet) || o.Validators >= hostOctet) {
		problems = append(problems, fmt.Sprintf("subnet %q: want the first three octets of an IPv4 /24, e.g. 10.77.3, and fewer than %d nodes", o.Subnet, hostOctet))
	}
	if err := (consensus.InitOptions{ChainID: o.ChainID}).Validate(); err != nil {
		problems = append(problems, fmt.Sprintf("chain id %q: want 1-50 characters of [A-Za-z0-9._-]", o.ChainID))
	}
	if c, msg := dtypes.CheckSetSnapshotInterval(&dtypes.SetSnapshotInterval{SnapshotInterval: o.SnapshotInterval}); c != dtypes.CodeOK {
		problems = append(problems, "snapshot interval: "+msg)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidOptions, strings.Join(problems, "; "))
	}
	return nil
}

// Network describes a generated testnet; Generate saves it as DIR/testnet.json.
type Network struct {
	Dir       string `json:"dir"` // absolute
	ChainID   string `json:"chain_id"`
	Transport string `json:"transport"`
	// Threshold is the genesis k; 0 means a majority of the member orgs (MajorityOf).
	Threshold int `json:"threshold"`
	BasePort  int `json:"base_port"`
	// Subnet is Options.Subnet: every node in its own network namespace ("" for none).
	Subnet string `json:"subnet,omitempty"`
	Nodes  []Node `json:"nodes"`
}

// Node is one validator of a Network, and its organisation.
type Node struct {
	Name string `json:"name"` // node1..nodeN: the home's directory name and moniker
	Org  string `json:"org"`  // org1..orgN
	Home string `json:"home"` // absolute
	// Listen addresses: P2P (as config.toml's p2p.laddr names it: tcp://HOST:PORT,
	// also for libp2p, which listens on UDP there), RPC, Prometheus (off).
	P2P string `json:"p2p"`
	// P2PAddr is the P2P listen address as the network's transport speaks it:
	// tcp://HOST:PORT, or for libp2p the QUIC multiaddr with the peer ID,
	// /ip4/HOST/udp/PORT/quic-v1/p2p/12D3KooW... (derived, like Start).
	P2PAddr    string `json:"p2p_addr"`
	RPC        string `json:"rpc"`
	Prometheus string `json:"prometheus"`
	// REST is the node's REST gateway (host:port) and RESTMetrics the gateway's
	// Prometheus metrics: `dstt start` takes them as --rest-laddr and
	// --rest-metrics-laddr (Start). Empty in a manifest written before they were
	// assigned: such a node starts with the defaults (8080, 26661), which only one
	// node of a host gets.
	REST        string `json:"rest,omitempty"`
	RESTMetrics string `json:"rest_metrics,omitempty"`
	// Start is the command that runs the node (the testnet scripts run it),
	// derived from Home, REST and RESTMetrics.
	Start    string `json:"start"`
	NodeID   string `json:"node_id"`   // CometBFT node ID
	LibP2PID string `json:"libp2p_id"` // libp2p peer ID (used when transport is libp2p)
	// ValidatorPubKey is the hex ed25519 consensus key, as in the org's genesis entry.
	ValidatorPubKey string `json:"validator_pub_key"`
	// AdminAddress is the address of the home's "dev" key, the org's admin.
	AdminAddress string `json:"admin_address"`
	// IP and Netns: the node's own address and network namespace (netns.go), on a
	// network generated with a subnet; empty otherwise (every node on 127.0.0.1).
	IP    string `json:"ip,omitempty"`
	Netns string `json:"netns,omitempty"`
	// Genesis is true for the validators in genesis, false for a node added later
	// (AddNode), which starts as a full node of an org the chain does not know yet.
	Genesis bool `json:"genesis"`
}

// MajorityOf is the k a threshold of 0 gives with n member orgs: n/2+1.
func MajorityOf(n int) int { return n/2 + 1 }

// RPCURL is the node's RPC as an http URL, e.g. http://127.0.0.1:26701.
func (n Node) RPCURL() string { return "http://" + strings.TrimPrefix(n.RPC, "tcp://") }

// RESTURL is the node's REST gateway base URL, e.g. http://127.0.0.1:26703 ("" when
// the manifest assigns none).
func (n Node) RESTURL() string {
	if n.REST == "" {
		return ""
	}
	return "http://" + n.REST
}

// StartArgs are the arguments of `dstt` that run the node: its home and, when the
// manifest assigns them, its own REST and REST metrics addresses (else every node of
// the host would try the same defaults).
func (n Node) StartArgs() []string {
	args := []string{"start", "--home", n.Home}
	if n.REST != "" {
		args = append(args, "--rest-laddr", n.REST)
	}
	if n.RESTMetrics != "" {
		args = append(args, "--rest-metrics-laddr", n.RESTMetrics)
	}
	if n.Netns != "" {
		// The RPC listens on the node's address on the testnet's private bridge,
		// not on loopback, so that the host (and the tests) reach it.
		args = append(args, "--unsafe-public-rpc")
	}
	return args
}

// startCommand renders StartArgs as a shell command line.
func (n Node) startCommand() string {
	parts := []string{"dstt"}
	for _, a := range n.StartArgs() {
		if strings.ContainsAny(a, " \t\n'\"$`\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// Node returns the node with the given name (node1...) or ErrNotFound.
func (nw *Network) Node(name string) (Node, error) {
	for _, n := range nw.Nodes {
		if n.Name == name {
			return n, nil
		}
	}
	return Node{}, fmt.Errorf("%w: no node %q in %s", ErrNotFound, name, nw.Dir)
}

var nodeDirPattern = regexp.MustCompile(`^node[0-9]+$`)

// Generate writes a testnet: N ordinary dstt homes DIR/node1..nodeN, each with distinct
// loopback ports, its own node and validator keys and a test-keyring key "dev"; one
// genesis (byte-identical in every home) listing all N validators with equal power, and
// an app_state where node i's validator and "dev" key form organisation org i, every
// "dev" key is a genesis admin, and governance needs opts.Threshold orgs (0: a majority
// of the member orgs at the time); every node's config names all the others as
// persistent peers on the chosen transport. It saves the manifest as DIR/testnet.json.
// Client settings (client.json) are the CLI's.
func Generate(opts Options) (*Network, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("testnet: dir %q: %w", opts.Dir, err)
	}
	if err := prepareDir(dir, opts.Overwrite); err != nil {
		return nil, err
	}
	if !opts.SkipPortCheck && opts.Subnet == "" {
		if err := checkPorts(opts); err != nil {
			return nil, err
		}
	}

	nw := &Network{Dir: dir, ChainID: opts.ChainID, Transport: opts.Transport, Threshold: opts.Threshold, BasePort: opts.BasePort, Subnet: opts.Subnet}
	keys, err := nw.addGenesisNodes(opts.Validators, opts.BasePort)
	if err != nil {
		return nil, err
	}
	gen, err := newGenesis(opts, nw.Nodes, keys)
	if err != nil {
		return nil, err
	}
	if err := nw.initHomes(gen, keys); err != nil {
		return nil, err
	}
	if err := nw.save(); err != nil {
		return nil, err
	}
	return nw, nil
}

// addGenesisNodes adds n genesis nodes node1..nodeN (node i of org i, its
// home under nw.Dir, its ports from base+PortsPerNode*(i-1)) and returns
// their newly generated keys.
func (nw *Network) addGenesisNodes(n, base int) ([]consensus.NodeKeys, error) {
	keys := make([]consensus.NodeKeys, n)
	for i := range n {
		name := fmt.Sprintf("node%d", i+1)
		keys[i] = consensus.GenerateNodeKeys()
		node, err := newNode(name, fmt.Sprintf("org%d", i+1), filepath.Join(nw.Dir, name), base+PortsPerNode*i, keys[i])
		if err != nil {
			return nil, err
		}
		nw.placeNode(&node, i+1)
		node.Genesis = true
		nw.Nodes = append(nw.Nodes, node)
	}
	return keys, nil
}

// newGenesis is the genesis of nodes (with keys[i] node i's): every node a
// validator with equal power, and an app state where each node's admin key
// is a genesis admin and forms its org with the node's validator, and
// governance needs opts.Threshold orgs.
func newGenesis(opts Options, nodes []Node, keys []consensus.NodeKeys) (*types.GenesisDoc, error) {
	vals := make([]types.GenesisValidator, len(nodes))
	state := engine.DefaultGenesisState()
	state.Threshold = uint32(opts.Threshold)
	state.Params.SnapshotInterval = opts.SnapshotInterval
	for i, n := range nodes {
		vals[i] = types.GenesisValidator{PubKey: keys[i].ValidatorPubKey(), Power: consensus.ValidatorPower, Name: n.Name}
		state.Admins = append(state.Admins, n.AdminAddress)
		state.Orgs = append(state.Orgs, dtypes.Org{ID: n.Org, Admins: []string{n.AdminAddress}, Validators: []string{n.ValidatorPubKey}, Nodes: []string{n.NodeID}})
	}
	appState, err := json.Marshal(state)
	if err != nil {
		return nil, err
	}
	if _, err := engine.DecodeGenesisState(appState); err != nil {
		return nil, fmt.Errorf("testnet: app state: %w", err)
	}
	genTime := opts.GenesisTime
	if genTime.IsZero() {
		genTime = time.Now()
	}
	return consensus.NewGenesis(opts.ChainID, genTime, vals, appState)
}

// initHomes writes every node's home: gen, its keys (keys[i] node i's),
// its listen addresses and all the other nodes as persistent peers on
// nw.Transport.
func (nw *Network) initHomes(gen *types.GenesisDoc, keys []consensus.NodeKeys) error {
	for i, n := range nw.Nodes {
		var peers []consensus.Peer
		for j, m := range nw.Nodes {
			if j != i {
				peers = append(peers, consensus.Peer{NodeKey: keys[j].NodeKey.PubKey(), Address: strings.TrimPrefix(m.P2P, "tcp://")})
			}
		}
		if err := initHome(n, gen, &keys[i], nw.Transport, peers); err != nil {
			return err
		}
	}
	return nil
}

// initHome writes n's home: gen, its keys, its listen addresses and peers
// as its persistent peers on transport.
func initHome(n Node, gen *types.GenesisDoc, keys *consensus.NodeKeys, transport string, peers []consensus.Peer) error {
	_, err := consensus.InitHome(consensus.InitOptions{
		Home:             n.Home,
		Moniker:          n.Name,
		Genesis:          gen,
		Keys:             keys,
		P2PListen:        n.P2P,
		RPCListen:        n.RPC,
		PrometheusListen: n.Prometheus,
		Transport:        transport,
		Peers:            peers,
	})
	if err != nil {
		return fmt.Errorf("testnet: %s: %w", n.Name, err)
	}
	return nil
}

// newNode describes a node whose home is home, with ports from base, and creates its
// admin key.
func newNode(name, org, home string, base int, keys consensus.NodeKeys) (Node, error) {
	admin, err := adminKey(filepath.Join(home, "keyring"))
	if err != nil {
		return Node{}, err
	}
	libp2pID, err := consensus.LibP2PID(keys.NodeKey.PubKey())
	if err != nil {
		return Node{}, err
	}
	return Node{
		Name:            name,
		Org:             org,
		Home:            home,
		P2P:             fmt.Sprintf("tcp://%s:%d", host, base),
		RPC:             fmt.Sprintf("tcp://%s:%d", host, base+1),
		Prometheus:      fmt.Sprintf("%s:%d", host, base+2),
		REST:            fmt.Sprintf("%s:%d", host, base+3),
		RESTMetrics:     fmt.Sprintf("%s:%d", host, base+4),
		NodeID:          keys.NodeID(),
		LibP2PID:        libp2pID,
		ValidatorPubKey: hex.EncodeToString(keys.ValidatorPubKey().Bytes()),
		AdminAddress:    admin.Address,
	}, nil
}

// adminKey returns the keyring's "dev" key, creating it if missing (an overwritten
// testnet keeps its admin keys, as `dstt init --overwrite` keeps a keyring).
func adminKey(keyringDir string) (keyring.KeyInfo, error) {
	kr, err := keyring.Open(keyring.BackendTest, keyringDir, nil)
	if err != nil {
		return keyring.KeyInfo{}, err
	}
	k, err := kr.Show(AdminKeyName)
	if errors.Is(err, keyring.ErrKeyNotFound) {
		k, err = kr.Add(AdminKeyName)
	}
	return k, err
}

// prepareDir creates dir, or clears a previous testnet in it when overwrite is set: the
// manifest and every node home, except their keyrings.
func prepareDir(dir string, overwrite bool) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return os.MkdirAll(dir, 0o700)
	}
	if err != nil {
		return fmt.Errorf("testnet: reading %s: %w", dir, err)
	}
	var ours []string
	for _, e := range entries {
		if e.Name() == ManifestFile || (e.IsDir() && nodeDirPattern.MatchString(e.Name())) {
			ours = append(ours, e.Name())
		}
	}
	if len(ours) == 0 {
		return nil
	}
	if !overwrite {
		return fmt.Errorf("%w: %s holds %s (stop it, then pass --overwrite to start a new chain)", ErrExists, dir, strings.Join(ours, ", "))
	}
	for _, name := range ours {
		p := filepath.Join(dir, name)
		if name == ManifestFile {
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("testnet: %w", err)
			}
			continue
		}
		// A home: everything goes but the keyring, so the admin keys survive.
		sub, err := os.ReadDir(p)
		if err != nil {
			return fmt.Errorf("testnet: %w", err)
		}
		for _, s := range sub {
			if s.Name() == "keyring" {
				continue
			}
			if err := os.RemoveAll(filepath.Join(p, s.Name())); err != nil {
				return fmt.Errorf("testnet: %w", err)
			}
		}
	}
	return nil
}

func (nw *Network) save() error {
	nw.deriveStart()
	data, err := json.MarshalIndent(nw, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(nw.Dir, ManifestFile), append(data, '\n'), 0o644)
}

// Load reads the manifest in dir; ErrNotFound if there is none.
func Load(dir string) (*Network, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("testnet: dir %q: %w", dir, err)
	}
	data, err := os.ReadFile(filepath.Join(abs, ManifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no %s (run `dstt testnet init --dir %s`)", ErrNotFound, abs, ManifestFile, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("testnet: %w", err)
	}
	var nw Network
	if err := json.Unmarshal(data, &nw); err != nil {
		return nil, fmt.Errorf("testnet: %s: %w", filepath.Join(abs, ManifestFile), err)
	}
	// The directory may have moved since Generate: paths follow it.
	nw.Dir = abs
	for i := range nw.Nodes {
		nw.Nodes[i].Home = filepath.Join(abs, nw.Nodes[i].Name)
	}
	nw.deriveStart()
	return &nw, nil
}

// deriveStart fills every node's Start and P2PAddr from its home and addresses.
func (nw *Network) deriveStart() {
	for i := range nw.Nodes {
		nw.Nodes[i].Start = nw.Nodes[i].startCommand()
		nw.Nodes[i].P2PAddr = nw.Nodes[i].p2pAddr(nw.Transport)
	}
}

// p2pAddr is the node's P2P listen address as transport speaks it: its
// p2p.laddr for tcp; for libp2p the QUIC multiaddr CometBFT's lp2p host
// derives from that laddr, with the node's peer ID.
func (n Node) p2pAddr(transport string) string {
	if transport != consensus.TransportLibP2P {
		return n.P2P
	}
	ma, err := lp2p.AddressToMultiAddr(n.P2P, lp2p.TransportQUIC)
	if err != nil {
		return n.P2P
	}
	return ma.String() + "/p2p/" + n.LibP2PID
}
