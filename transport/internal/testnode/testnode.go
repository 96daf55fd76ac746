// Package testnode runs a real single-validator dstt node for tests: the
// abci engine on a Pebble store in a temp dir, CometBFT in-process on free
// loopback ports, and the REST gateway in front of it (metrics on their own
// free loopback port).
package testnode

import (
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"testing"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"

	"github.com/dstt/dstt/abci"
	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/consensus"
	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/transport/rest"
	"github.com/dstt/dstt/types"
)

// Options adjust the node; the zero value is a fast chain without access
// control.
type Options struct {
	// RBAC makes Admin a genesis admin, which turns access control on.
	RBAC bool
	// TimeoutCommit overrides consensus.timeout_commit (default 1ms, so
	// tests that need many blocks run quickly).
	TimeoutCommit time.Duration
	// Gateway adjusts the gateway config (ListenAddress is set to a free port).
	Gateway func(*rest.Config)
	// GatewayOptions are passed to rest.New (Verifier defaults to the engine's).
	GatewayOptions rest.Options
	// NodeLog opens a node security log (audit.NodeLog) in the temp dir and
	// wires it as `dstt start` does: the app's CheckTx rejections and the
	// gateway's SecurityLog (unless GatewayOptions set one).
	NodeLog bool
}

// Node is a running test node.
type Node struct {
	Node *consensus.Node
	// Engine is not safe to use while the node runs (it is not safe for
	// concurrent use); read the chain through Node.Client() instead.
	Engine   *abci.Engine
	Gateway  *rest.Gateway
	Admin    *security.LocalSigner // a key; genesis admin with Options.RBAC
	ChainID  string
	Verifier *abci.CachedVerifier
	// NodeLog is the node security log with Options.NodeLog, else nil.
	NodeLog *audit.NodeLog
}

// URL is the gateway's base URL.
func (n *Node) URL() string { return n.Gateway.URL() }

// FreeAddr returns a free loopback host:port.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

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
	gen := abci.DefaultGenesisState()
	if opts.RBAC {
		gen.Admins = []string{types.Address(admin.PubKey())}
	}
	appState, err := json.Marshal(gen)
	if err != nil {
		t.Fatal(err)
	}
	const chainID = "dstt-test"
	h, err := consensus.InitHome(consensus.InitOptions{
		Home: filepath.Join(t.TempDir(), "home"), ChainID: chainID, AppState: appState,
		P2PListen: "tcp://" + FreeAddr(t), RPCListen: "tcp://" + FreeAddr(t),
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

	store, err := storage.NewPebbleStore(h.AppDataDir(), storage.DefaultPebbleOptions())
	if err != nil {
		t.Fatal(err)
	}
	verifier := abci.NewCachedVerifier(1 << 16)
	engine, err := abci.NewEngine(store, verifier)
	if err != nil {
		store.Close()
		t.Fatal(err)
	}
	app := abci.NewApp(engine, nil)
	var nodeLog *audit.NodeLog
	if opts.NodeLog {
		key, err := security.GenerateKey()
		if err != nil {
			store.Close()
			t.Fatal(err)
		}
		if nodeLog, err = audit.OpenNodeLog(filepath.Join(h.DataDir(), "audit", "node.log"), key, audit.NodeLogOptions{}); err != nil {
			store.Close()
			t.Fatal(err)
		}
		app.OnCheckTxRejected = func(txHash []byte, signer string, code types.Code, log string) {
			_ = nodeLog.Record(audit.KindCheckTxRejected, audit.Fields{
				Actor: signer, Action: "check_tx", Code: uint32(code), CodeName: code.Name(), Message: log, TxHash: txHash,
			})
		}
	}
	closeLog := func() {
		if nodeLog != nil {
			nodeLog.Close()
		}
	}
	node, err := consensus.NewNode(h, app, nil)
	if err != nil {
		closeLog()
		store.Close()
		t.Fatal(err)
	}
	cfg := rest.DefaultConfig()
	cfg.ListenAddress = "127.0.0.1:0"
	cfg.MetricsListenAddress = "127.0.0.1:0"
	if opts.Gateway != nil {
		opts.Gateway(&cfg)
	}
	gopts := opts.GatewayOptions
	if gopts.Verifier == nil {
		gopts.Verifier = verifier
	}
	if gopts.SecurityLog == nil && nodeLog != nil {
		gopts.SecurityLog = nodeLog
	}
	gw, err := rest.New(rest.NewCometBackend(node.CometNode(), node.Client()), cfg, gopts)
	if err != nil {
		_ = node.Stop()
		closeLog()
		store.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := gw.Start(ctx); err != nil {
		cancel()
		_ = node.Stop()
		closeLog()
		store.Close()
		t.Fatal(err)
	}
	if err := node.Start(); err != nil {
		cancel()
		_ = node.Stop()
		closeLog()
		store.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = gw.Shutdown(sctx)
		cancel()
		if err := node.Stop(); err != nil {
			t.Errorf("stopping the node: %v", err)
		}
		closeLog()
		store.Close()
	})
	return &Node{Node: node, Engine: engine, Gateway: gw, Admin: admin, ChainID: chainID, Verifier: verifier, NodeLog: nodeLog}
}
