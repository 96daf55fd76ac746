package assemble

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dstt/dstt/abci"
	"github.com/dstt/dstt/abci/engine"
	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/consensus"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/transport/rest"
)

// gatewayShutdownTimeout is how long Stop lets requests in flight finish.
const gatewayShutdownTimeout = 5 * time.Second

// Node is an assembled dstt node: built by New, run by Start or Run,
// torn down by Stop.
type Node struct {
	cfg         Config
	home        *consensus.Home
	consensus   *consensus.Node
	gateway     *rest.Gateway // nil: disabled, or its address was taken (rest.ErrListenSkipped)
	audit       *nodeAudit
	verifier    *engine.CachedVerifier
	txResults   *engine.TxResults // the gateway's in-process read of committed tx results
	startHeight uint64
	joinOnly    bool // JoinByStateSync's node: no sinks, no gateway

	closers  []func() error // in build order; Stop runs them in reverse
	stopOnce sync.Once
	stopErr  error
}

// New validates cfg and builds the node (see the package doc for what and
// in which order). Nothing of it is left open when it fails.
func New(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg.withDefaults()}
	if err := n.build(); err != nil {
		return nil, errors.Join(err, n.teardown())
	}
	return n, nil
}

func (n *Node) onStop(f func() error) { n.closers = append(n.closers, f) }

func (n *Node) build() error {
	cfg := n.cfg
	h, err := consensus.OpenHome(cfg.Home)
	if err != nil {
		return err
	}
	n.home = h
	store, err := storage.NewPebbleStore(h.AppDataDir(), storage.DefaultPebbleOptions())
	if err != nil {
		return fmt.Errorf("open app store: %w", err)
	}
	n.onStop(store.Close)
	n.verifier = engine.NewCachedVerifier(cfg.VerifierCacheSize)
	n.txResults = engine.NewTxResults(store)
	eng, err := engine.NewEngine(store, n.verifier)
	if err != nil {
		return err
	}
	if err := checkStore(h, store, eng); err != nil {
		return err
	}
	app := abci.NewApp(eng, cfg.Logger.With("module", "dstt"))
	if err := app.EnableSnapshots(filepath.Join(h.DataDir(), "snapshots")); err != nil {
		return err
	}
	cometCfg, err := h.Config()
	if err != nil {
		return err
	}
	app.AdmitBeforeState(consensus.ConfiguredPeerIDs(cometCfg))
	nodeOpts, publicRPC, err := rpcExposure(h, eng, cfg.UnsafePublicRPC, cfg.Console)
	if err != nil {
		return err
	}
	if n.audit, err = openAudit(h, cfg.Logger, cfg.AcceptTruncatedNodeLog, cfg.Console); err != nil {
		return err
	}
	n.onStop(n.audit.close)
	n.audit.hook(app)
	if err := n.audit.recordPublicRPC(publicRPC); err != nil {
		return err
	}
	if n.consensus, err = consensus.NewNode(h, app, cfg.CometLogger, nodeOpts...); err != nil {
		return publicRPCHint(err)
	}
	n.onStop(n.consensus.Stop)
	n.startHeight = eng.Height() // after the handshake; nothing calls the app until Start
	if n.joinOnly {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.onStop(func() error { cancel(); return nil })
	metrics := prometheus.NewRegistry() // the sinks'; the gateway serves it
	if err := n.audit.startSinks(ctx, engine.NewAuditSource(store), metrics, cfg.Metrics); err != nil {
		return err
	}
	return n.startGateway(ctx, metrics)
}

// JoinByStateSync restores the chain's state by state sync when cfg's home
// is set to join that way (`dstt testnet add-node --state-sync`,
// consensus.Home.EnableStateSync) and holds no state yet: it builds the
// node without audit sinks and gateway, runs it until CometBFT has restored
// a snapshot its peers offer (verified against the app hash the validators
// signed, abci/snapshot.go) and stored the chain's state at that height,
// and stops it. The node New builds next then fetches the blocks after the
// snapshot by block sync (consensus.Node.SyncState says why not in the same
// node). It returns the height restored, or 0 and nothing done when the
// home does not join by state sync.
func JoinByStateSync(ctx context.Context, cfg Config) (height int64, err error) {
	if err := cfg.Validate(); err != nil {
		return 0, err
	}
	h, err := consensus.OpenHome(cfg.Home)
	if err != nil {
		return 0, err
	}
	if ok, err := h.MayStateSync(); !ok || err != nil {
		return 0, err // most starts: nothing built
	}
	n := &Node{cfg: cfg.withDefaults(), joinOnly: true}
	defer func() { err = errors.Join(err, n.teardown()) }()
	if err := n.build(); err != nil {
		return 0, err
	}
	fmt.Fprintf(n.cfg.Console, "joining the chain by state sync: waiting for a snapshot from the peers\n")
	height, err = n.consensus.SyncState(ctx)
	if errors.Is(err, consensus.ErrNoStateSync) { // CometBFT skips it (the only genesis validator)
		return 0, nil
	}
	return height, err
}

// checkStore refuses a store whose audit chain does not match the app hash
// it last committed (engine.CheckAudit), or whose app hash is not the one
// CometBFT committed at the same height: both before CometBFT's handshake,
// which would otherwise stop the node with a panic.
func checkStore(h *consensus.Home, store storage.Store, eng *engine.Engine) error {
	err := engine.CheckAudit(store)
	if err == nil {
		height, appHash, cerr := consensus.CommittedAppHash(h)
		switch {
		case cerr != nil:
			return cerr
		case height > 0 && uint64(height) == eng.Height() && !bytes.Equal(appHash, eng.AppHash()):
			err = fmt.Errorf("%w: the store's app hash at height %d is %X, CometBFT committed %X", audit.ErrStoreMismatch, height, eng.AppHash(), appHash)
		}
	}
	if errors.Is(err, audit.ErrStoreMismatch) {
		return fmt.Errorf("%w\nthe audit data in %s does not match what consensus committed (altered or damaged), so the node does not start or serve it. Keep a copy of that directory for investigation; to run this validator again, restore its data from a backup or resynchronise it from the other validators", err, h.AppDataDir())
	}
	if err != nil {
		return fmt.Errorf("check the stored audit chain: %w", err)
	}
	return nil
}

// startGateway serves the REST gateway in front of the CometBFT node.
func (n *Node) startGateway(ctx context.Context, metrics prometheus.Gatherer) error {
	if n.cfg.REST.Disabled() {
		return nil
	}
	opts := n.cfg.Gateway
	if opts.Verifier == nil {
		opts.Verifier = n.verifier
	}
	if opts.TxResults == nil {
		opts.TxResults = n.txResults
	}
	if opts.Logger == nil {
		opts.Logger = n.cfg.Logger.With("module", "rest")
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics
	} else {
		opts.Metrics = prometheus.Gatherers{opts.Metrics, metrics}
	}
	if opts.SecurityLog == nil && n.audit.nodeLog != nil { // gateway auth failures, cache-dropped duplicates
		opts.SecurityLog = n.audit.nodeLog
	}
	gw, err := rest.New(rest.NewCometBackend(n.consensus.CometNode(), n.consensus.Client()), n.cfg.REST, opts)
	if err != nil {
		return fmt.Errorf("REST gateway: %w", err)
	}
	switch err := gw.Start(ctx); {
	case errors.Is(err, rest.ErrListenSkipped):
		fmt.Fprintf(n.cfg.Console, "warning: %v\n", err)
		return nil
	case err != nil:
		return fmt.Errorf("REST gateway: %w", err)
	}
	n.gateway = gw
	if n.audit.nodeLog != nil && opts.SecurityLog == n.audit.nodeLog {
		n.audit.gateway.Store(gw) // the app's refusals of outside clients, bounded like the gateway's
	}
	n.onStop(func() error {
		sctx, cancel := context.WithTimeout(context.Background(), gatewayShutdownTimeout)
		defer cancel()
		if err := gw.Shutdown(sctx); err != nil { // requests still in flight were cut off
			n.cfg.Logger.Error("REST gateway shutdown", "module", "rest", "err", err)
		}
		return nil
	})
	return nil
}

// Start starts CometBFT: p2p, its RPC, consensus.
func (n *Node) Start() error { return n.consensus.Start() }

// Run starts the node, blocks until ctx is done or the CometBFT node
// quits, then stops it. A clean shutdown returns nil.
func (n *Node) Run(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return n.Stop()
	}
	if err := n.Start(); err != nil {
		return errors.Join(err, n.Stop())
	}
	select {
	case <-ctx.Done():
	case <-n.consensus.CometNode().Quit():
	}
	return n.Stop()
}

// Stop tears the node down in reverse build order: gateway, sinks'
// context, CometBFT node, audit (node_stopped recorded), store. It is
// idempotent; later calls return the first call's result.
func (n *Node) Stop() error {
	n.stopOnce.Do(func() { n.stopErr = n.teardown() })
	return n.stopErr
}

func (n *Node) teardown() error {
	var errs []error
	for i := len(n.closers) - 1; i >= 0; i-- {
		errs = append(errs, n.closers[i]())
	}
	n.closers = nil
	return errors.Join(errs...)
}

// Consensus is the in-process CometBFT node (Client for its RPC API,
// CometNode for the mempool and event bus). Do not start or stop it.
func (n *Node) Consensus() *consensus.Node { return n.consensus }

// Home is the node's home.
func (n *Node) Home() *consensus.Home { return n.home }

// Gateway is the REST gateway, nil when disabled or when its optional
// default address was taken.
func (n *Node) Gateway() *rest.Gateway { return n.gateway }

// GatewayURL is the gateway's base URL, "" without a gateway.
func (n *Node) GatewayURL() string {
	if n.gateway == nil {
		return ""
	}
	return n.gateway.URL()
}

// MetricsURL is the gateway's Prometheus endpoint, "" without one.
func (n *Node) MetricsURL() string {
	if n.gateway == nil {
		return ""
	}
	return n.gateway.MetricsURL()
}

// RPCAddress is CometBFT's RPC listen address (an operator port).
func (n *Node) RPCAddress() string { return n.consensus.RPCAddress() }

// NodeLog is the node security log, nil when audit.toml disables it.
func (n *Node) NodeLog() *audit.NodeLog { return n.audit.nodeLog }

// Verifier is the engine's signature verifier (safe for concurrent use),
// shared with the gateway.
func (n *Node) Verifier() *engine.CachedVerifier { return n.verifier }

// StartHeight is the committed height the store held when New ran (after
// CometBFT's handshake replayed stored blocks into the application).
func (n *Node) StartHeight() uint64 { return n.startHeight }
