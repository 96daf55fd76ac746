package rest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dstt/dstt/transport/api"
)

// Errors from the gateway's lifecycle.
var (
	ErrStarted = errors.New("rest: gateway already started")
	ErrClosed  = errors.New("rest: gateway shut down")
	// ErrListenSkipped: Config.ListenOptional was set and the address is
	// taken; the gateway is not serving.
	ErrListenSkipped = errors.New("rest: REST gateway not started")
)

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
	var gather prometheus.Gatherer = g.metrics.reg
	if g.opts.Metrics != nil {
		gather = prometheus.Gatherers{g.metrics.reg, g.opts.Metrics}
	}
	mux.Handle("GET "+api.PathMetrics, promhttp.HandlerFor(gather, promhttp.HandlerOpts{}))
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
	if g.refusals != nil {
		g.refusals.Close() // the summaries of refusals counted so far
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
