package assemble

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dstt/dstt/abci"
	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/audit/sink"
	"github.com/dstt/dstt/consensus"
	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/transport/rest"
	"github.com/dstt/dstt/types"
)

// nodeAudit is the running node's audit side: the node security chain and
// the SIEM shippers.
type nodeAudit struct {
	cfg     sink.Config
	home    *consensus.Home
	nodeLog *audit.NodeLog // nil when node_log.disabled
	signer  *security.LocalSigner
	chainID string
	svc     *sink.Service
	logger  *slog.Logger
	// gateway, once serving, bounds what the hooks record for outside
	// clients (rest.Gateway.RecordRefusal); before that, and on a node
	// without a gateway, refusals bounds them the same way.
	gateway  atomic.Pointer[rest.Gateway]
	refusals *rest.RefusalRecorder
}

// recordRefusal records a refusal by the application (of a tx a client or
// a peer sent, of a query), bounded: through the gateway's recording when
// it serves, else through the node's own.
func (a *nodeAudit) recordRefusal(kind audit.Kind, f audit.Fields) {
	if gw := a.gateway.Load(); gw != nil {
		gw.RecordRefusal(kind, f)
		return
	}
	a.refusals.Record(kind, f) // after a write failure the log reports it on every call; Stop returns it
}

// openAudit loads HOME/config/audit.toml, opens the node log (creating the
// audit key on first use) and records config_loaded and node_started. A
// truncated or damaged node log is refused (audit.ErrNodeLogTruncated)
// unless acceptTruncated; then the recovery is shouted on console.
func openAudit(h *consensus.Home, logger cmtlog.Logger, acceptTruncated bool, console io.Writer) (*nodeAudit, error) {
	cfgPath := filepath.Join(h.Dir(), sink.ConfigFile)
	cfg, err := sink.LoadConfig(cfgPath)
	if err != nil {
		return nil, err
	}
	cfg = cfg.Resolve(h.Dir())
	a := &nodeAudit{cfg: cfg, home: h, logger: slog.New(cometSlogHandler{logger.With("module", "audit")})}
	a.chainID, _ = h.ChainID()
	if cfg.NodeLog.Disabled {
		return a, nil
	}
	if a.signer, err = audit.LoadOrGenerateKey(cfg.NodeLog.KeyFile); err != nil {
		return nil, fmt.Errorf("audit key: %w", err)
	}
	if a.nodeLog, err = audit.OpenNodeLog(cfg.NodeLog.Path, a.signer, audit.NodeLogOptions{AcceptTruncated: acceptTruncated}); err != nil {
		if errors.Is(err, audit.ErrNodeLogTruncated) {
			return nil, fmt.Errorf("%w\nthe node security log lost entries or is damaged, so the node does not start. Keep a copy of %s and %s.hwm and check them (dstt audit verify --chain node). To start anyway, continuing the sequence after the highest seq ever written and recording the loss in the log: dstt start --accept-truncated-node-log",
				err, cfg.NodeLog.Path, cfg.NodeLog.Path)
		}
		return nil, err
	}
	a.refusals = rest.NewRefusalRecorder(a.nodeLog, nil)
	a.warnRecovery(console)
	if err := a.recordStart(h, cfgPath); err != nil {
		a.nodeLog.Close()
		return nil, err
	}
	return a, nil
}

// warnRecovery tells the operator what opening the node log repaired.
func (a *nodeAudit) warnRecovery(console io.Writer) {
	path := a.cfg.NodeLog.Path
	if r := a.nodeLog.Recovery(); r != nil {
		fmt.Fprintf(console, `
WARNING: --accept-truncated-node-log: the node security log %s was truncated or damaged:
WARNING: %s
WARNING: kept signed entries up to seq %d; the highest seq ever written was %d (%d lost, never reused);
WARNING: damaged bytes moved to %q. Recorded as seq %d (%s) in the node log.

`, path, r.Cause, r.Kept.Seq, r.HighWater.Seq, r.Lost(), r.MovedTo, r.Entry.Seq, r.Entry.Kind)
		a.logger.Error("node security log truncated or damaged; started with --accept-truncated-node-log",
			"kept_seq", r.Kept.Seq, "high_water_seq", r.HighWater.Seq, "moved_to", r.MovedTo, "entry_seq", r.Entry.Seq)
	}
	if a.nodeLog.HighWaterMarkCreated() {
		fmt.Fprintf(console, "warning: the node security log %s had no high-water mark (%s.hwm; written by an older dstt, or deleted): made one from the log, which could not be checked for truncation this time\n",
			path, path)
	}
}

// recordStart records config_loaded (what configuration the node runs
// with, by content hash) and node_started.
func (a *nodeAudit) recordStart(h *consensus.Home, cfgPath string) error {
	var files, sums []string
	for _, p := range []string{h.ConfigFile(), h.GenesisFile(), cfgPath} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		sum := sha256.Sum256(b)
		files = append(files, p)
		sums = append(sums, fmt.Sprintf("%s sha256=%x", filepath.Base(p), sum))
	}
	var sinkNames []string
	for _, s := range a.cfg.Sinks {
		if !s.Disabled {
			sinkNames = append(sinkNames, s.Name)
		}
	}
	if _, err := a.nodeLog.Append(audit.KindConfigLoaded, audit.Fields{
		Action: "load", Resources: files,
		Message: fmt.Sprintf("%s; audit sinks: [%s]", strings.Join(sums, ", "), strings.Join(sinkNames, " ")),
	}); err != nil {
		return err
	}
	nodeID, _ := h.NodeID()
	_, err := a.nodeLog.Append(audit.KindNodeStarted, audit.Fields{
		Actor: nodeID, Action: "start",
		Message: fmt.Sprintf("dstt node starting: chain %s, audit key %X", a.chainID, a.signer.PubKey()),
	})
	return err
}

// recordPublicRPC records an unsafe public RPC in the node log: which
// CometBFT listeners are reachable from other hosts.
func (a *nodeAudit) recordPublicRPC(listeners []string) error {
	if a.nodeLog == nil || len(listeners) == 0 {
		return nil
	}
	_, err := a.nodeLog.Append(audit.KindConfigLoaded, audit.Fields{
		Action: "unsafe_public_rpc", Resources: listeners,
		Message: "WARNING: started with --unsafe-public-rpc on a chain with access control: CometBFT's RPC listens beyond loopback (" +
			strings.Join(listeners, ", ") + ") and serves every block, tx and value without authentication",
	})
	return err
}

// hook sends the engine adapter's node-local events (mempool rejections,
// refused reads) to the node log. Record never waits for the disk.
func (a *nodeAudit) hook(app *abci.App) {
	if a.nodeLog == nil {
		return
	}
	app.OnCheckTxRejected = func(txHash []byte, signer string, code types.Code, log string) {
		a.recordRefusal(audit.KindCheckTxRejected, audit.Fields{
			Actor: signer, Action: "check_tx", Code: uint32(code), CodeName: code.Name(), Message: log, TxHash: txHash,
		})
	}
	app.OnAuthFailure = func(ctx context.Context, reader, path, reason string) {
		a.recordRefusal(audit.KindAuthFailed, audit.Fields{ // a read through the REST gateway carries its client's address
			Actor: reader, Endpoint: rest.ClientEndpoint(ctx), Action: "query", Resources: []string{path}, Code: uint32(types.CodeUnauthorized),
			CodeName: types.CodeUnauthorized.Name(), Message: reason,
		})
	}
}

// startSinks starts the shippers of the enabled sinks: the consensus chain
// is read from the node's own committed state (cons). Their metrics
// register with reg and, when not nil, extra.
func (a *nodeAudit) startSinks(ctx context.Context, cons audit.Source, reg, extra prometheus.Registerer) error {
	if len(a.cfg.Sinks) == 0 {
		return nil
	}
	sources := map[string]audit.Source{"consensus": cons}
	if a.nodeLog != nil {
		sources["node"] = a.nodeLog
	}
	cursors, err := sink.NewFileCursors(filepath.Join(a.home.DataDir(), "audit", "cursors"))
	if err != nil {
		return err
	}
	metrics, err := sink.NewMetrics(reg)
	if err != nil {
		return err
	}
	if extra != nil {
		if err := extra.Register(metrics); err != nil {
			return fmt.Errorf("audit sink metrics: %w", err)
		}
	}
	host, _ := os.Hostname()
	a.svc, err = sink.Start(ctx, a.cfg.Sinks, sink.ServiceOptions{
		Sources: sources, Cursors: cursors, Hostname: host, ChainID: a.chainID, Metrics: metrics, Logger: a.logger,
	})
	return err
}

// close stops the shippers and records node_stopped.
func (a *nodeAudit) close() error {
	if a.svc != nil {
		if err := a.svc.Close(); err != nil { // a sink's connection; the cursors are saved
			a.logger.Error("closing audit sinks", "err", err)
		}
	}
	if a.nodeLog == nil {
		return nil
	}
	a.refusals.Close() // the summaries of the refusals it counted
	_, err := a.nodeLog.Append(audit.KindNodeStopped, audit.Fields{Action: "stop", Message: "dstt node stopped"})
	return errors.Join(err, a.nodeLog.Close())
}

// cometSlogHandler sends log/slog records to a CometBFT logger.
type cometSlogHandler struct{ l cmtlog.Logger }

func (h cometSlogHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h cometSlogHandler) Handle(_ context.Context, r slog.Record) error {
	kv := make([]any, 0, 2*r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		kv = append(kv, a.Key, a.Value.Any())
		return true
	})
	switch {
	case r.Level >= slog.LevelWarn: // a sink failing is worth seeing at the default level
		h.l.Error(r.Message, kv...)
	case r.Level >= slog.LevelInfo:
		h.l.Info(r.Message, kv...)
	default:
		h.l.Debug(r.Message, kv...)
	}
	return nil
}

func (h cometSlogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	kv := make([]any, 0, 2*len(attrs))
	for _, a := range attrs {
		kv = append(kv, a.Key, a.Value.Any())
	}
	return cometSlogHandler{h.l.With(kv...)}
}

func (h cometSlogHandler) WithGroup(string) slog.Handler { return h }
