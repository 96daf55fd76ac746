package rest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/cometbft/cometbft/libs/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/types"
)

// Options are the gateway's collaborators; every field is optional.
type Options struct {
	// Verifier, when set, checks each submitted batch's signatures in
	// parallel before CheckTx. Pass the node's engine.CachedVerifier so
	// CheckTx finds them cached; nil verifies with verify.Batch.
	Verifier Verifier
	// Authorizer decides reads (kv, history, tx, events). Nil allows all.
	Authorizer ReadAuthorizer
	// Logger; nil is silent.
	Logger log.Logger
	// OnAuthFailure, when set, is told about every request the gateway
	// itself refuses for authentication or authorization: a failed TLS
	// handshake (who has only Addr), or a read the Authorizer denied.
	// Refusals by the node (signed reads, txs) reach the application's
	// own hooks instead. It must not block.
	OnAuthFailure func(who Identity, reason string)
	// SecurityLog, when set, is the node's security log (the audit node
	// chain, *audit.NodeLog): the gateway records there what OnAuthFailure
	// is told (as auth_failed), every submission it refuses before
	// admission (as checktx_rejected, action "submit") and every tx the
	// mempool's cache dropped as a duplicate (as checktx_rejected, code
	// REPLAY), which the application never sees and so cannot record
	// itself; bounded per client network (see the package doc).
	SecurityLog SecurityLog
	// TxResults, when set, is the node's own read of its committed tx
	// results (engine.TxResults): how the gateway tells a replay of a
	// committed tx from a resubmission still in the mempool without asking
	// the node as an anonymous client would (on a chain with access
	// control that query is refused and recorded as a refused read). Nil:
	// the gateway asks with an unsigned /tx query.
	TxResults TxResultReader
	// Metrics, when set, are more series served on the metrics address
	// beside the gateway's own: the node's audit sinks. Its names must not
	// clash with the gateway's (dstt_rest_*, dstt_txs_*, go_*, process_*...).
	Metrics prometheus.Gatherer
}

// SecurityLog records node-local security events; *audit.NodeLog is one.
// Record queues and must not wait for the disk.
type SecurityLog interface {
	Record(kind audit.Kind, f audit.Fields) error
}

var _ SecurityLog = (*audit.NodeLog)(nil)

// TxResultReader reads the committed result of a tx in-process; an error
// means it is not committed (or cannot be read). engine.TxResults is one.
type TxResultReader interface {
	TxResult(hash []byte) (types.TxResult, error)
}

// Gateway is the REST/JSON API of one node. New builds it, Start serves it
// until Shutdown; Handler serves it on a listener of the caller's choosing
// (start the block follower with Start's first half, startHub, first).
// All methods are safe for concurrent use.
type Gateway struct {
	cfg     Config
	backend Backend
	opts    Options
	logger  log.Logger
	metrics *metrics
	hub     *hub
	limiter *clientLimiter
	checker *policyChecker
	limits  txLimitsCache
	// refusals records refusals of outside clients in the security log,
	// bounded; nil without one.
	refusals *RefusalRecorder
	handler  http.Handler
	streams  atomic.Int64

	mu       sync.Mutex
	srv      *http.Server
	ln       net.Listener
	conns    *limitListener
	msrv     *http.Server // metrics
	mln      net.Listener
	cancel   context.CancelFunc
	closing  chan struct{}
	shutdown bool
}

// New builds a gateway over backend. It validates cfg; nothing listens
// until Start.
func New(backend Backend, cfg Config, opts Options) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if backend == nil {
		return nil, errors.New("rest: New needs a backend")
	}
	if opts.Logger == nil {
		opts.Logger = log.NewNopLogger()
	}
	if opts.Authorizer == nil {
		opts.Authorizer = AllowAllReads
	}
	g := &Gateway{cfg: cfg, backend: backend, opts: opts, logger: opts.Logger, closing: make(chan struct{})}
	g.metrics = newMetrics(backend)
	g.hub = newHub(backend, g.metrics, g.logger)
	g.limiter = newClientLimiter(cfg.RateLimit, cfg.RateBurst)
	if opts.SecurityLog != nil {
		g.refusals = NewRefusalRecorder(opts.SecurityLog, func(reason string) { g.metrics.unrecorded.WithLabelValues(reason).Inc() })
	}
	var err error
	if g.checker, err = newPolicyChecker(backend); err != nil {
		return nil, err
	}
	g.handler = g.middleware(http.HandlerFunc(g.route))
	return g, nil
}

// Handler is the gateway's HTTP handler (for tests and custom servers).
// Start must have been called, or StartFollower, for commit waits and
// events to work. The per-request body and write deadlines come with it;
// the connection caps, header and idle timeouts belong to Start's listener
// and server, and a custom server must bring its own.
func (g *Gateway) Handler() http.Handler { return g.handler }

// authFailure tells OnAuthFailure and the security log about a request the
// gateway refused for authentication or authorization.
func (g *Gateway) authFailure(who Identity, action string, resources []string, reason string) {
	if g.opts.OnAuthFailure != nil {
		g.opts.OnAuthFailure(who, reason)
	}
	g.recordRefusal(audit.KindAuthFailed, audit.Fields{
		Actor: who.ID, Endpoint: who.Addr, Action: action, Resources: resources,
		Code: uint32(types.CodeUnauthorized), CodeName: types.CodeUnauthorized.Name(), Message: reason,
	})
}

// recordRefusal records a refusal of an outside client (f.Endpoint is its
// address) in the security log, within the bounds of refusalLog.
func (g *Gateway) recordRefusal(kind audit.Kind, f audit.Fields) {
	if g.refusals != nil {
		g.refusals.Record(kind, f)
	}
}

// RecordRefusal records in Options.SecurityLog, within the same bounds as
// the gateway's own refusals (grouped by client network, or by actor when
// f has no Endpoint; one summary a minute; capped), a refusal the node
// made for an outside client: the application's CheckTx and query
// refusals. After Shutdown it records each one. Without a SecurityLog it
// does nothing.
func (g *Gateway) RecordRefusal(kind audit.Kind, f audit.Fields) { g.recordRefusal(kind, f) }
