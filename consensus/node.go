package consensus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	abcitypes "github.com/cometbft/cometbft/abci/types"
	cfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/libs/service"
	nm "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/proxy"
	rpcclient "github.com/cometbft/cometbft/rpc/client"
	rpclocal "github.com/cometbft/cometbft/rpc/client/local"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/dstt/dstt/consensus/chainstate"
)

// Errors from the Node lifecycle.
var (
	ErrAlreadyStarted = errors.New("consensus: node already started")
	ErrStopped        = errors.New("consensus: node stopped; build a new one with NewNode")
)

type nodeState int

const (
	stateCreated nodeState = iota
	stateRunning
	stateStopped
)

// Node is an in-process CometBFT node running one ABCI application.
// Start, Stop and Run may be called from any goroutine; Stop is idempotent.
type Node struct {
	home   *Home
	config *cfg.Config
	comet  *nm.Node
	client *rpclocal.Local
	dbs    *dbSet

	mu    sync.Mutex
	state nodeState
	// stopPeerWatch ends the peer admission re-check (peeradmission.go).
	stopPeerWatch func()
}

// NewNode builds a node from an initialised home and the application. The node's
// databases are open and the ABCI handshake (Info, replay of stored blocks into the app)
// has run when it returns; nothing listens until Start. A nil logger is silent.
// Call Stop even if Start is never called, to close the databases.
// With RequireLoopbackRPC it returns ErrPublicRPC, before opening anything,
// when CometBFT's RPC would listen beyond loopback.
func NewNode(home *Home, app abcitypes.Application, logger log.Logger, opts ...NodeOption) (*Node, error) {
	if home == nil || app == nil {
		return nil, errors.New("consensus: NewNode needs a home and an application")
	}
	var o nodeOptions
	for _, f := range opts {
		f(&o)
	}
	if logger == nil {
		logger = log.NewNopLogger()
	}
	c, err := home.Config()
	if err != nil {
		return nil, err
	}
	if o.loopbackRPC {
		if err := checkLoopbackRPC(c); err != nil {
			return nil, err
		}
	}
	nodeKey, err := p2p.LoadNodeKey(c.NodeKeyFile())
	if err != nil {
		return nil, fmt.Errorf("consensus: loading node key: %w", err)
	}
	// A restore (state sync, backup import) cut short before it marked its
	// height: CometBFT would panic on this home.
	if marked, err := chainstate.MarkRestored(c); err != nil {
		return nil, err
	} else if marked {
		logger.Info("restore finished: marked the restored height for block sync", "module", "consensus")
	}
	pv, nodeCfg, remote, err := privValidator(home, c, nodeKey, logger)
	if err != nil {
		return nil, err
	}
	dbs := &dbSet{}
	comet, err := nm.NewNode(nodeCfg, pv, nodeKey,
		proxy.NewLocalClientCreator(app),
		nm.DefaultGenesisDocProviderFunc(c),
		dbs.provider,
		nm.DefaultMetricsProvider(c.Instrumentation),
		logger,
	)
	if err != nil {
		// Services NewNode already started are unreachable now; at least free the
		// databases (and their file locks) and the signer's listener.
		if remote != nil {
			_ = remote.Close()
		}
		return nil, errors.Join(fmt.Errorf("consensus: creating node: %w", err), dbs.closeAll())
	}
	if remote != nil {
		remote.watchPower(comet)
	}
	return &Node{
		home:   home,
		config: c,
		comet:  comet,
		client: rpclocal.New(comet),
		dbs:    dbs,
	}, nil
}

// privValidator is the node's validator key: priv_validator_key.json, or with
// priv_validator_laddr set a remoteSigner listening there (see remotesigner.go).
// CometBFT gets a config without priv_validator_laddr then, so it does not
// build its own signer client.
func privValidator(home *Home, c *cfg.Config, nodeKey *p2p.NodeKey, logger log.Logger) (cmttypes.PrivValidator, *cfg.Config, *remoteSigner, error) {
	if c.PrivValidatorListenAddr == "" {
		pv, err := loadFilePV(c.PrivValidatorKeyFile(), c.PrivValidatorStateFile())
		return pv, c, nil, err
	}
	chainID, err := home.ChainID()
	if err != nil {
		return nil, nil, nil, err
	}
	remote, err := newRemoteSigner(c.PrivValidatorListenAddr, chainID, nodeKey.PrivKey, logger)
	if err != nil {
		return nil, nil, nil, err
	}
	nodeCfg := *c
	nodeCfg.PrivValidatorListenAddr = ""
	return remote, &nodeCfg, remote, nil
}

// Start starts p2p, the RPC server and consensus. A Node starts once: after Stop, or a
// failed Start (which stops it), Start returns ErrStopped.
func (n *Node) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch n.state {
	case stateRunning:
		return ErrAlreadyStarted
	case stateStopped:
		return ErrStopped
	}
	if err := n.comet.Start(); err != nil {
		return errors.Join(fmt.Errorf("consensus: starting node: %w", err), n.teardownLocked())
	}
	if n.config.FilterPeers && !n.config.P2P.LibP2PConfig.Enabled { // libp2p has no peer filter
		n.stopPeerWatch = watchPeers(n.comet, n.comet.Logger.With("module", "peer-admission"))
	}
	n.state = stateRunning
	return nil
}

// Stop stops the node, waits until consensus, p2p and RPC have shut down, and closes the
// databases. It is idempotent and safe on a node that never started.
func (n *Node) Stop() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.teardownLocked()
}

func (n *Node) teardownLocked() error {
	var errs []error
	switch n.state {
	case stateStopped:
		return nil
	case stateRunning:
		if n.stopPeerWatch != nil {
			n.stopPeerWatch()
		}
		if err := n.comet.Stop(); err != nil && !errors.Is(err, service.ErrAlreadyStopped) {
			errs = append(errs, fmt.Errorf("consensus: stopping node: %w", err))
		}
		n.comet.Wait()
	case stateCreated:
		// Never started (or Start failed): CometBFT's Stop refuses a service that has not
		// started, but NewNode already started the event bus and indexer and opened the
		// stores. OnStop is the node's own teardown for exactly those.
		n.comet.OnStop()
	}
	n.state = stateStopped
	// The node leaves its ABCI connections running; stop them so their watcher goroutine
	// exits. The application itself belongs to the caller.
	if err := n.comet.ProxyApp().Stop(); err != nil && !errors.Is(err, service.ErrAlreadyStopped) {
		errs = append(errs, fmt.Errorf("consensus: stopping ABCI connections: %w", err))
	}
	// The node closes its block, state and evidence stores but not the indexer's; close
	// whatever is still open.
	errs = append(errs, n.dbs.closeAll())
	return errors.Join(errs...)
}

// Run starts the node, blocks until ctx is done (or the node is stopped elsewhere), then
// stops it. A clean shutdown returns nil.
func (n *Node) Run(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return n.Stop()
	}
	if err := n.Start(); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-n.comet.Quit():
	}
	return n.Stop()
}

// IsRunning reports whether the node has started and not stopped.
func (n *Node) IsRunning() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state == stateRunning
}

// Client is an in-process RPC client: the CometBFT RPC API without HTTP. It works while
// the node runs. Do not call its Start/Stop (they act on the node's event bus).
func (n *Node) Client() rpcclient.Client { return n.client }

// RPCAddress is the CometBFT RPC listen address, e.g. "tcp://127.0.0.1:26657".
func (n *Node) RPCAddress() string { return n.config.RPC.ListenAddress }

// Config is the config the node runs with. Treat it as read-only.
func (n *Node) Config() *cfg.Config { return n.config }

// Home is the home the node was built from.
func (n *Node) Home() *Home { return n.home }

// CometNode is the underlying CometBFT node, for what this package does not wrap
// (mempool, event bus, block store). Do not start or stop it directly.
func (n *Node) CometNode() *nm.Node { return n.comet }

// WaitForHeight waits until the chain seen through c has committed height h, polling
// Status (so it works for in-process and HTTP clients). It gives up when ctx is done:
// pass a deadline, since with create_empty_blocks = false the height only moves when
// there are txs.
func WaitForHeight(ctx context.Context, c rpcclient.StatusClient, h int64) error {
	const maxInterval = 100 * time.Millisecond
	interval := 5 * time.Millisecond
	timer := time.NewTimer(0)
	defer timer.Stop()
	var last int64
	var lastErr error
	for {
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return fmt.Errorf("consensus: waiting for height %d (last error: %v): %w", h, lastErr, ctx.Err())
			}
			return fmt.Errorf("consensus: waiting for height %d (at %d): %w", h, last, ctx.Err())
		case <-timer.C:
		}
		st, err := c.Status(ctx)
		if err == nil {
			lastErr = nil
			last = st.SyncInfo.LatestBlockHeight
			if last >= h {
				return nil
			}
		} else {
			lastErr = err
		}
		timer.Reset(interval)
		interval = min(2*interval, maxInterval)
	}
}

// dbSet opens CometBFT's databases through cfg.DefaultDBProvider and remembers them, so
// every one can be closed when the node stops (CometBFT leaves the indexer's open, which
// keeps its file lock and blocks a restart in the same process).
type dbSet struct {
	mu  sync.Mutex
	dbs []*guardedDB
}

// get is the database CometBFT opened under id ("state", "blockstore", ...),
// nil before it did.
func (s *dbSet) get(id string) dbm.DB {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.dbs {
		if d.id == id {
			return d
		}
	}
	return nil
}

func (s *dbSet) provider(ctx *cfg.DBContext) (dbm.DB, error) {
	db, err := cfg.DefaultDBProvider(ctx)
	if err != nil {
		if strings.HasPrefix(err.Error(), "unknown db_backend") {
			return nil, fmt.Errorf("%w: %q (build with -tags %s, or init a home with another backend): %v",
				ErrDBBackendAbsent, ctx.Config.DBBackend, ctx.Config.DBBackend, err)
		}
		return nil, err
	}
	d := &guardedDB{DB: db, id: ctx.ID}
	s.mu.Lock()
	s.dbs = append(s.dbs, d)
	s.mu.Unlock()
	return d, nil
}

func (s *dbSet) closeAll() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, d := range s.dbs {
		if err := d.Close(); err != nil {
			errs = append(errs, fmt.Errorf("consensus: closing database: %w", err))
		}
	}
	return errors.Join(errs...)
}

// errDBClosed is what a database operation returns after the node closed it.
var errDBClosed = errors.New("consensus: database closed")

// guardedDB is one of CometBFT's databases as the node hands it out. Close is
// idempotent (the first Close's error is returned every time) and waits for
// the reads and writes in flight; one that comes after returns errDBClosed
// instead of reaching Pebble, which panics on a closed database. CometBFT's
// indexer goroutine can still be indexing a block when the node's Stop
// returns (nothing lets us wait for it), so this is what keeps a stop from
// crashing the process. Iterators are checked when opened only: their readers
// (RPC, consensus) have stopped before the databases close.
type guardedDB struct {
	dbm.DB
	id     string // CometBFT's name for it (DBContext.ID)
	mu     sync.RWMutex
	closed bool
	err    error
}

// guard runs op unless the database is closed; Close waits for it.
func (d *guardedDB) guard(op func() error) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return errDBClosed
	}
	return op()
}

func (d *guardedDB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		d.closed, d.err = true, d.DB.Close()
	}
	return d.err
}

// Get and Has answer "nothing stored" after Close, not errDBClosed: the
// block store panics on any read error, and CometBFT's consensus reactor
// runs a goroutine per peer (queryMaj23Routine) that can still load a commit
// after the node's Stop returned. Absent is an answer every reader handles,
// and nothing can act on it: every write after Close fails.
func (d *guardedDB) Get(key []byte) (v []byte, err error) {
	err = d.guard(func() error { v, err = d.DB.Get(key); return err })
	if errors.Is(err, errDBClosed) {
		return nil, nil
	}
	return v, err
}

func (d *guardedDB) Has(key []byte) (ok bool, err error) {
	err = d.guard(func() error { ok, err = d.DB.Has(key); return err })
	if errors.Is(err, errDBClosed) {
		return false, nil
	}
	return ok, err
}

func (d *guardedDB) Set(key, value []byte) error {
	return d.guard(func() error { return d.DB.Set(key, value) })
}

func (d *guardedDB) SetSync(key, value []byte) error {
	return d.guard(func() error { return d.DB.SetSync(key, value) })
}

func (d *guardedDB) Delete(key []byte) error {
	return d.guard(func() error { return d.DB.Delete(key) })
}

func (d *guardedDB) DeleteSync(key []byte) error {
	return d.guard(func() error { return d.DB.DeleteSync(key) })
}

func (d *guardedDB) Iterator(start, end []byte) (it dbm.Iterator, err error) {
	err = d.guard(func() error { it, err = d.DB.Iterator(start, end); return err })
	return it, err
}

func (d *guardedDB) ReverseIterator(start, end []byte) (it dbm.Iterator, err error) {
	err = d.guard(func() error { it, err = d.DB.ReverseIterator(start, end); return err })
	return it, err
}

func (d *guardedDB) Compact(start, end []byte) error {
	return d.guard(func() error { return d.DB.Compact(start, end) })
}

func (d *guardedDB) Print() error {
	return d.guard(func() error { return d.DB.Print() })
}

func (d *guardedDB) Stats() map[string]string {
	var st map[string]string
	_ = d.guard(func() error { st = d.DB.Stats(); return nil })
	return st
}

// NewBatch returns a batch whose Write and WriteSync are guarded like the
// database's own writes; after Close every call on it returns errDBClosed.
func (d *guardedDB) NewBatch() dbm.Batch {
	b := &guardedBatch{db: d}
	_ = d.guard(func() error { b.batch = d.DB.NewBatch(); return nil })
	return b
}

type guardedBatch struct {
	db    *guardedDB
	batch dbm.Batch // nil when the database was closed at NewBatch
}

func (b *guardedBatch) Set(key, value []byte) error {
	if b.batch == nil {
		return errDBClosed
	}
	return b.batch.Set(key, value)
}

func (b *guardedBatch) Delete(key []byte) error {
	if b.batch == nil {
		return errDBClosed
	}
	return b.batch.Delete(key)
}

func (b *guardedBatch) Write() error {
	if b.batch == nil {
		return errDBClosed
	}
	return b.db.guard(b.batch.Write)
}

func (b *guardedBatch) WriteSync() error {
	if b.batch == nil {
		return errDBClosed
	}
	return b.db.guard(b.batch.WriteSync)
}

// Close releases the batch; it touches only the batch's memory, so it is
// safe after the database closed.
func (b *guardedBatch) Close() error {
	if b.batch == nil {
		return nil
	}
	return b.batch.Close()
}
