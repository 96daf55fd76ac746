package rest

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cometbft/cometbft/libs/log"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/types"
)

// Options are the gateway's collaborators; every field is optional.
type Options struct {
	// Verifier, when set, checks each submitted batch's signatures in
	// parallel before CheckTx. Pass the engine's abci.CachedVerifier so
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
	// is told (as auth_failed) and every tx the mempool's cache dropped as
	// a duplicate (as checktx_rejected, code REPLAY), which the application
	// never sees and so cannot record itself.
	SecurityLog SecurityLog
}

// SecurityLog records node-local security events; *audit.NodeLog is one.
// Record queues and must not wait for the disk.
type SecurityLog interface {
	Record(kind audit.Kind, f audit.Fields) error
}

var _ SecurityLog = (*audit.NodeLog)(nil)

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
	handler http.Handler
	streams atomic.Int64

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

// Errors from the gateway's lifecycle.
var (
	ErrStarted = errors.New("rest: gateway already started")
	ErrClosed  = errors.New("rest: gateway shut down")
	// ErrListenSkipped: Config.ListenOptional was set and the address is
	// taken; the gateway is not serving.
	ErrListenSkipped = errors.New("rest: REST gateway not started")
)

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

// StartFollower starts following committed blocks (commit waits, events,
// metrics) until ctx ends, without listening. Start calls it.
func (g *Gateway) StartFollower(ctx context.Context) error { return g.hub.start(ctx) }

// Start follows blocks and listens on cfg.ListenAddress (with TLS if
// configured); it returns once the listener is open and serves in the
// background until Shutdown.
func (g *Gateway) Start(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.shutdown:
		return ErrClosed
	case g.srv != nil:
		return ErrStarted
	}
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	if err := g.hub.start(hctx); err != nil {
		cancel()
		return fmt.Errorf("rest: follow blocks: %w", err)
	}
	tcp, err := net.Listen("tcp", g.cfg.ListenAddress)
	if err != nil {
		cancel()
		if g.cfg.ListenOptional && errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("%w: %s is in use (set --rest-laddr to serve it elsewhere)", ErrListenSkipped, g.cfg.ListenAddress)
		}
		return fmt.Errorf("rest: listen: %w", err)
	}
	// The caps count TCP connections, before any TLS handshake. They must
	// leave the rest of the node (CometBFT's WAL, stores, peers, RPC) its
	// file descriptors: say so loudly when they do not.
	if lim, ok := fdLimit(); ok && (g.cfg.MaxOpenConnections == 0 || uint64(g.cfg.MaxOpenConnections) > lim/2) {
		g.logger.Error("REST connection cap leaves the node few file descriptors: a client flood could starve CometBFT; lower --rest-max-open-connections or raise the open-files limit",
			"max_open_connections", g.cfg.MaxOpenConnections, "open_files_limit", lim)
	}
	conns := newLimitListener(tcp, g.cfg.MaxOpenConnections, g.cfg.MaxConnectionsPerIP,
		func(n int) { g.metrics.openConns.Set(float64(n)) },
		func(reason string) { g.metrics.refusedConns.WithLabelValues(reason).Inc() })
	var ln net.Listener = conns
	// No ReadTimeout or WriteTimeout here: both would also cut event
	// streams (a read deadline that expires while the handler runs cancels
	// its context). The middleware sets per-request deadlines instead.
	srv := &http.Server{
		Handler:           g.handler,
		ReadHeaderTimeout: g.cfg.ReadHeaderTimeout,
		IdleTimeout:       g.cfg.IdleTimeout,
		MaxHeaderBytes:    g.cfg.MaxHeaderBytes,
		ErrorLog:          stdlog.New(serverLog{g}, "", 0),
	}
	if g.cfg.TLS.Enabled() {
		tc, err := g.cfg.TLS.serverTLS()
		if err != nil {
			cancel()
			tcp.Close()
			return err
		}
		srv.TLSConfig = tc
		ln = tls.NewListener(ln, tc)
	}
	msrv, mln, err := g.listenMetrics()
	if err != nil {
		cancel()
		tcp.Close()
		return err
	}
	g.srv, g.ln, g.conns, g.msrv, g.mln, g.cancel = srv, ln, conns, msrv, mln, cancel
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.logger.Error("REST gateway stopped", "err", err)
		}
	}()
	if msrv != nil {
		go func() {
			if err := msrv.Serve(mln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				g.logger.Error("metrics listener stopped", "err", err)
			}
		}()
	}
	return nil
}

// metricsMaxConns bounds the metrics listener's connections (scrapers).
const metricsMaxConns = 32

// listenMetrics opens the metrics listener, or returns nils when it is
// off (or optional and its address is taken).
func (g *Gateway) listenMetrics() (*http.Server, net.Listener, error) {
	if g.cfg.MetricsDisabled() {
		return nil, nil, nil
	}
	tcp, err := net.Listen("tcp", g.cfg.MetricsListenAddress)
	if err != nil {
		if g.cfg.MetricsListenOptional && errors.Is(err, syscall.EADDRINUSE) {
			g.logger.Error("metrics not served: the address is in use (set --rest-metrics-laddr to serve them elsewhere)", "addr", g.cfg.MetricsListenAddress)
			return nil, nil, nil
		}
		return nil, nil, fmt.Errorf("rest: metrics listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+api.PathMetrics, promhttp.HandlerFor(g.metrics.reg, promhttp.HandlerOpts{}))
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: g.cfg.ReadHeaderTimeout,
		ReadTimeout:       g.cfg.ReadHeaderTimeout + g.cfg.ReadBodyTimeout,
		WriteTimeout:      g.cfg.WriteTimeout,
		IdleTimeout:       g.cfg.IdleTimeout,
		MaxHeaderBytes:    g.cfg.MaxHeaderBytes,
		ErrorLog:          stdlog.New(serverLog{g}, "", 0),
	}
	return srv, newLimitListener(tcp, metricsMaxConns, 0, nil, nil), nil
}

// MetricsAddr is the address metrics are served on ("" before Start, or
// when they are off).
func (g *Gateway) MetricsAddr() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.mln == nil {
		return ""
	}
	return g.mln.Addr().String()
}

// MetricsURL is the metrics endpoint, e.g. http://127.0.0.1:26661/metrics
// ("" when metrics are not served).
func (g *Gateway) MetricsURL() string {
	if a := g.MetricsAddr(); a != "" {
		return "http://" + a + api.PathMetrics
	}
	return ""
}

// OpenConnections is the number of open REST connections (0 before Start).
func (g *Gateway) OpenConnections() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.conns == nil {
		return 0
	}
	return g.conns.Open()
}

// Addr is the address the gateway listens on ("" before Start).
func (g *Gateway) Addr() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ln == nil {
		return ""
	}
	return g.ln.Addr().String()
}

// URL is the gateway's base URL, e.g. http://127.0.0.1:8080.
func (g *Gateway) URL() string {
	scheme := "http"
	if g.cfg.TLS.Enabled() {
		scheme = "https"
	}
	return scheme + "://" + g.Addr()
}

// Shutdown ends event streams, stops accepting requests, waits for the
// others until ctx ends (then closes them), and stops following blocks.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	if g.shutdown {
		g.mu.Unlock()
		return nil
	}
	g.shutdown = true
	close(g.closing)
	srv, msrv, cancel := g.srv, g.msrv, g.cancel
	g.mu.Unlock()
	var err error
	if srv != nil {
		if err = srv.Shutdown(ctx); err != nil {
			err = errors.Join(err, srv.Close())
		}
	}
	if msrv != nil {
		err = errors.Join(err, msrv.Close())
	}
	if cancel != nil {
		cancel()
	}
	return err
}

// Serve builds and starts a gateway that shuts down (waiting up to 5 s for
// requests in flight) when ctx ends: New, Start and Shutdown in one call,
// for a node process.
func Serve(ctx context.Context, backend Backend, cfg Config, opts Options) (*Gateway, error) {
	g, err := New(backend, cfg, opts)
	if err != nil {
		return nil, err
	}
	if err := g.Start(ctx); err != nil {
		return nil, err
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = g.Shutdown(sctx)
	}()
	return g, nil
}

// Run starts the gateway and shuts it down when ctx ends.
func (g *Gateway) Run(ctx context.Context) error {
	if err := g.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return g.Shutdown(sctx)
}

// Route names, used as the metrics' route label and in the OpenAPI test.
const (
	routeSubmit  = "submit"
	routeTx      = "tx"
	routeKV      = "kv"
	routeHistory = "history"
	routeEvents  = "events"
	routeStatus  = "status"
	routeOpenAPI = "openapi"
	routeHealthz = "healthz"
	routeReadyz  = "readyz"
	routeNone    = "none"
)

// routeSpec is one endpoint: method, the OpenAPI path and the route name.
type routeSpec struct {
	method, path, name string
}

// routes lists every endpoint; openapi.json documents exactly these.
var routes = []routeSpec{
	{http.MethodPost, "/v1/txs", routeSubmit},
	{http.MethodGet, "/v1/txs/{hash}", routeTx},
	{http.MethodGet, "/v1/kv/{key}", routeKV},
	{http.MethodGet, "/v1/kv/{key}/history", routeHistory},
	{http.MethodGet, "/v1/events", routeEvents},
	{http.MethodGet, "/v1/status", routeStatus},
	{http.MethodGet, "/v1/openapi.json", routeOpenAPI},
	{http.MethodGet, "/healthz", routeHealthz},
	{http.MethodGet, "/readyz", routeReadyz},
}

// match maps an escaped request path to a route name and its path
// parameter (a tx hash or an unescaped key). The router is hand-written,
// not http.ServeMux, because keys may hold "/", "." and ".." (escaped as
// one path segment, or raw), which ServeMux would clean and redirect.
func match(escapedPath string) (name, param string, err error) {
	switch escapedPath {
	case api.PathTxs:
		return routeSubmit, "", nil
	case api.PathEvents:
		return routeEvents, "", nil
	case api.PathStatus:
		return routeStatus, "", nil
	case api.PathOpenAPI:
		return routeOpenAPI, "", nil
	case api.PathHealthz:
		return routeHealthz, "", nil
	case api.PathReadyz:
		return routeReadyz, "", nil
	}
	if rest, ok := strings.CutPrefix(escapedPath, api.PathTxs+"/"); ok && rest != "" && !strings.Contains(rest, "/") {
		return routeTx, rest, nil
	}
	if rest, ok := strings.CutPrefix(escapedPath, api.PathKV); ok && rest != "" {
		name := routeKV
		if k, ok := strings.CutSuffix(rest, "/history"); ok && k != "" {
			name, rest = routeHistory, k
		}
		key, err := pathUnescape(rest)
		if err != nil {
			return name, "", err
		}
		return name, key, nil
	}
	return routeNone, "", nil
}

var routeMethods = func() map[string]string {
	m := make(map[string]string, len(routes))
	for _, r := range routes {
		m[r.name] = r.method
	}
	return m
}()

func (g *Gateway) route(w http.ResponseWriter, r *http.Request) {
	name, param, err := match(r.URL.EscapedPath())
	if err != nil {
		writeProblem(w, r, api.NewProblem(api.ProblemBadRequest, "the key in the path is not validly escaped: "+err.Error()))
		return
	}
	if name == routeNone {
		writeProblem(w, r, api.NewProblem(api.ProblemNoRoute, fmt.Sprintf("no endpoint at %s; see GET %s", r.URL.Path, api.PathOpenAPI)))
		return
	}
	if want := routeMethods[name]; r.Method != want && !(want == http.MethodGet && r.Method == http.MethodHead) {
		w.Header().Set("Allow", want)
		writeProblem(w, r, api.NewProblem(api.ProblemMethod, fmt.Sprintf("%s takes %s, not %s", r.URL.Path, want, r.Method)))
		return
	}
	switch name {
	case routeSubmit:
		g.handleSubmit(w, r)
	case routeTx:
		g.handleTx(w, r, param)
	case routeKV:
		g.handleKV(w, r, param)
	case routeHistory:
		g.handleHistory(w, r, param)
	case routeEvents:
		g.handleEvents(w, r)
	case routeStatus:
		g.handleStatus(w, r)
	case routeOpenAPI:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(openAPIDocument)
	case routeHealthz:
		g.handleHealthz(w, r)
	case routeReadyz:
		g.handleReadyz(w, r)
	}
}

// statusRecorder remembers the response status for the metrics, and arms
// the write deadline: once, at the first byte of a response; before every
// write of an event stream.
type statusRecorder struct {
	http.ResponseWriter
	status int

	rc           *http.ResponseController // of the server's ResponseWriter
	writeTimeout time.Duration
	stream       bool
	armed        bool
}

func (s *statusRecorder) armWrite() {
	if s.stream || !s.armed {
		_ = s.rc.SetWriteDeadline(time.Now().Add(s.writeTimeout)) // ErrNotSupported off a real connection: nothing to bound
		s.armed = true
	}
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.armWrite()
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	s.armWrite()
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush lets event streams flush through the recorder.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		s.armWrite()
		f.Flush()
	}
}

// middleware: deadlines, panic recovery, metrics, per-client rate limit.
//
// Deadlines are set per request rather than with http.Server.ReadTimeout
// and WriteTimeout, which would also end event streams. The headers have
// ReadHeaderTimeout (the server's); a body then has ReadBodyTimeout, and
// readBody lifts the deadline once it has the whole body (a read deadline
// left to expire while a commit-mode submit waits would cancel it). A
// response has WriteTimeout from its first byte, an event stream for each
// write, and whatever is still buffered when the handler returns gets a
// fresh WriteTimeout to be flushed.
func (g *Gateway) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		name, _, _ := match(r.URL.EscapedPath())
		rc := http.NewResponseController(w)
		_ = rc.SetWriteDeadline(time.Time{}) // the last response's, on a keep-alive connection
		if r.ContentLength != 0 {            // a body (-1: chunked)
			_ = rc.SetReadDeadline(start.Add(g.cfg.ReadBodyTimeout))
		}
		rec := &statusRecorder{ResponseWriter: w, rc: rc, writeTimeout: g.cfg.WriteTimeout, stream: name == routeEvents}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				g.logger.Error("REST handler panicked", "route", name, "panic", p, "stack", string(debug.Stack()))
				if rec.status == 0 {
					writeProblem(rec, r, api.NewProblem(api.ProblemInternal, "the gateway failed while handling the request"))
				}
			}
			_ = rc.SetWriteDeadline(time.Now().Add(g.cfg.WriteTimeout))
			g.metrics.requests.WithLabelValues(name, strconv.Itoa(rec.status)).Inc()
			if name != routeEvents {
				g.metrics.requestDuration.WithLabelValues(name).Observe(time.Since(start).Seconds())
			}
		}()
		switch name {
		case routeHealthz, routeReadyz:
		default:
			if ok, wait := g.limiter.allow(ClientIdentity(r).ID); !ok {
				secs := max(1, int((wait+time.Second-1)/time.Second))
				rec.Header().Set("Retry-After", strconv.Itoa(secs))
				p := api.NewProblem(api.ProblemRateLimited, fmt.Sprintf("this client may make %g requests per second (burst %d); retry after %s", g.cfg.RateLimit, g.cfg.RateBurst, wait.Round(time.Millisecond)))
				p.RetryAfterSeconds = secs
				writeProblem(rec, r, p)
				return
			}
		}
		next.ServeHTTP(rec, r)
	})
}

// writeProblem writes p as application/problem+json.
func writeProblem(w http.ResponseWriter, r *http.Request, p *api.Problem) {
	if p.Instance == "" && r != nil {
		p.Instance = r.URL.Path
	}
	if p.RetryAfterSeconds > 0 && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", strconv.Itoa(p.RetryAfterSeconds))
	}
	w.Header().Set("Content-Type", api.ContentTypeProblem)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// writeJSON writes v with status 200.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_ = json.NewEncoder(w).Encode(v)
}

// serverLog receives net/http's server errors: TLS handshake failures go
// to OnAuthFailure, everything goes to the debug log.
type serverLog struct{ g *Gateway }

func (l serverLog) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	l.g.logger.Debug("REST server", "msg", msg)
	if rest, ok := strings.CutPrefix(msg, "http: TLS handshake error from "); ok {
		addr, reason, _ := strings.Cut(rest, ": ")
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		l.g.authFailure(Identity{ID: "ip:" + host, Addr: host}, "tls_handshake", nil, "TLS handshake: "+reason)
	}
	return len(p), nil
}

// authFailure tells OnAuthFailure and the security log about a request the
// gateway refused for authentication or authorization.
func (g *Gateway) authFailure(who Identity, action string, resources []string, reason string) {
	if g.opts.OnAuthFailure != nil {
		g.opts.OnAuthFailure(who, reason)
	}
	if g.opts.SecurityLog != nil {
		_ = g.opts.SecurityLog.Record(audit.KindAuthFailed, audit.Fields{
			Actor: who.ID, Action: action, Resources: resources,
			Code: uint32(types.CodeUnauthorized), CodeName: types.CodeUnauthorized.Name(), Message: reason,
		})
	}
}
