package testnode

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dstt/dstt/abci/engine"
	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/audit/sink"
	"github.com/dstt/dstt/consensus"
	"github.com/dstt/dstt/consensus/assemble"
	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/testnet/freeport"
	"github.com/dstt/dstt/transport/rest"
	"github.com/dstt/dstt/types"
)

// Options adjust the node; the zero value is a fast chain without access
// control.
type Options struct {
	// RBAC makes Admin a genesis admin, which turns access control on.
	RBAC bool
	// Org makes Admin the admin of the one member org, org1, with k = 1:
	// Admin alone approves governance txs.
	Org bool
	// TimeoutCommit overrides consensus.timeout_commit (default 1ms, so
	// tests that need many blocks run quickly).
	TimeoutCommit time.Duration
	// Gateway adjusts the gateway config (ListenAddress is set to a free port).
	Gateway func(*rest.Config)
	// GatewayOptions are passed to the gateway; nil fields are filled as
	// `dstt start` fills them (the engine's verifier, the node log).
	GatewayOptions rest.Options
	// NodeLog is kept for callers that asked for the node security log:
	// every test node runs it now, as `dstt start` does (unless AuditConfig
	// disables it).
	NodeLog bool
	// AuditConfig, when set, is written to HOME/config/audit.toml before the
	// node starts: sinks, or a node log elsewhere.
	AuditConfig string
}

// Node is a running test node.
type Node struct {
	// Node is the CometBFT node; read the chain through Node.Client().
	Node     *consensus.Node
	Gateway  *rest.Gateway
	Admin    *security.LocalSigner // a key; genesis admin with Options.RBAC
	ChainID  string
	Home     string
	Verifier *engine.CachedVerifier
	// NodeLog is the node security log (nil only if AuditConfig disables it).
	NodeLog *audit.NodeLog
	// Assembled is the whole node as `dstt start` runs it.
	Assembled *assemble.Node
}

// URL is the gateway's base URL.
func (n *Node) URL() string { return n.Gateway.URL() }

// FreeAddr returns a free loopback host:port (freeport.Port).
func FreeAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(freeport.Port(t)))
}

// nodeAddr picks the node's P2P and RPC addresses; a test replaces it to
// hand out a taken port.
var nodeAddr = FreeAddr

const chainID = "dstt-test"

// startAttempts bounds the retries of a start whose picked port another
// process took between the pick and the bind (freeport says callers that can
// retry should): each attempt builds a fresh home on fresh ports.
const startAttempts = 3

// Start builds and starts a node; t.Cleanup stops it.
func Start(t testing.TB, opts Options) *Node {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a real CometBFT node")
	}
	admin, err := security.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	for attempt := 1; ; attempt++ {
		n, home, err := start(t, opts, admin)
		// By text: CometBFT's RPC server formats the bind error with %v.
		if err != nil && strings.Contains(err.Error(), "address already in use") && attempt < startAttempts {
			t.Logf("attempt %d: %v; again on other ports", attempt, err)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		return &Node{
			Node: n.Consensus(), Gateway: n.Gateway(), Admin: admin, ChainID: chainID, Home: home,
			Verifier: n.Verifier(), NodeLog: n.NodeLog(), Assembled: n,
		}
	}
}

// start builds a home and a node on it and starts the node; a node that
// started is stopped at cleanup, one that did not is stopped at once.
func start(t testing.TB, opts Options, admin *security.LocalSigner) (*assemble.Node, string, error) {
	t.Helper()
	home := initHome(t, opts, admin)
	cfg := assemble.DefaultConfig()
	cfg.Home = home
	cfg.VerifierCacheSize = 1 << 16
	cfg.Metrics = prometheus.NewRegistry() // one per node: tests run many
	cfg.REST.ListenAddress = "127.0.0.1:0"
	cfg.REST.MetricsListenAddress = "127.0.0.1:0"
	if opts.Gateway != nil {
		opts.Gateway(&cfg.REST)
	}
	cfg.Gateway = opts.GatewayOptions
	n, err := assemble.New(cfg)
	if err != nil {
		return nil, "", err
	}
	if err := n.Start(); err != nil {
		return nil, "", errors.Join(err, n.Stop())
	}
	t.Cleanup(func() {
		if err := n.Stop(); err != nil {
			t.Errorf("stopping the node: %v", err)
		}
	})
	return n, home, nil
}

// initHome makes a one-validator home on free loopback ports with a short
// timeout_commit, and opts.AuditConfig as its audit.toml.
func initHome(t testing.TB, opts Options, admin *security.LocalSigner) string {
	t.Helper()
	gen := engine.DefaultGenesisState()
	if opts.RBAC {
		gen.Admins = []string{types.Address(admin.PubKey())}
	}
	if opts.Org {
		gen.Orgs, gen.Threshold = []types.Org{{ID: "org1", Admins: []string{types.Address(admin.PubKey())}}}, 1
	}
	appState, err := json.Marshal(gen)
	if err != nil {
		t.Fatal(err)
	}
	h, err := consensus.InitHome(consensus.InitOptions{
		Home: filepath.Join(t.TempDir(), "home"), ChainID: chainID, AppState: appState,
		P2PListen: "tcp://" + nodeAddr(t), RPCListen: "tcp://" + nodeAddr(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := h.Config()
	if err != nil {
		t.Fatal(err)
	}
	c.Consensus.TimeoutCommit = opts.TimeoutCommit
	if c.Consensus.TimeoutCommit == 0 {
		c.Consensus.TimeoutCommit = time.Millisecond
	}
	cmtcfg.WriteConfigFile(h.ConfigFile(), c)
	if opts.AuditConfig != "" {
		if err := os.WriteFile(filepath.Join(h.Dir(), sink.ConfigFile), []byte(opts.AuditConfig), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return h.Dir()
}
