package rest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/dstt/dstt/security"
	"github.com/spf13/pflag"
)

// ErrConfig is returned (wrapped) by Config.Validate.
var ErrConfig = errors.New("rest: invalid config")

// Client-certificate policies for TLSConfig.ClientAuth.
const (
	ClientAuthNone     = "none"     // no client certificates asked for
	ClientAuthOptional = "optional" // verified against ClientCAFile when a client sends one
	ClientAuthRequire  = "require"  // every client must present one that verifies, except on /healthz and /readyz
)

// TLSConfig switches the gateway to HTTPS (TLS 1.3 only) when CertFile and
// KeyFile are set.
type TLSConfig struct {
	CertFile     string
	KeyFile      string
	ClientCAFile string // PEM CA bundle that client certificates must chain to
	ClientAuth   string // ClientAuthNone (default without a CA), ClientAuthOptional (default with one) or ClientAuthRequire
}

// Enabled reports whether TLS is configured.
func (t TLSConfig) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// Config configures the gateway. DefaultConfig gives working values; a zero
// numeric field means "no limit" only where its comment says so.
type Config struct {
	// ListenAddress is host:port; "" or "off" disables the gateway.
	ListenAddress string
	// ListenOptional makes an address already in use a warning
	// (ErrListenSkipped) rather than a failure: for a default address
	// the user did not ask for, so several nodes on one host still start.
	ListenOptional bool
	TLS            TLSConfig

	// MetricsListenAddress is where Prometheus metrics are served
	// (GET /metrics), host:port; "" or "off" disables them. Metrics are
	// not authenticated, so the default is loopback; they are never served
	// on ListenAddress. MetricsListenOptional makes an address in use a
	// logged warning (no metrics) rather than a failure, as ListenOptional.
	MetricsListenAddress  string
	MetricsListenOptional bool

	// MaxBodyBytes bounds a request body (a batch of txs as base64 JSON).
	MaxBodyBytes int64
	// MaxBatchTxs bounds the txs in one POST /v1/txs.
	MaxBatchTxs int
	// MaxHeaderBytes bounds request headers (http.Server.MaxHeaderBytes).
	MaxHeaderBytes int

	// Connection limits. They hold whatever clients do: a connection over
	// a cap is closed (reset) as soon as it is accepted, before any byte is
	// read, so it holds no file descriptor and no goroutine, and the node's
	// other ports (CometBFT's RPC and P2P) keep their own budget.
	//
	// MaxOpenConnections bounds the gateway's open TCP connections, event
	// streams and idle keep-alive connections included (like CometBFT's
	// rpc.max_open_connections); 0 means no limit.
	MaxOpenConnections int
	// MaxConnectionsPerIP bounds the open connections from one client IP
	// address (an IPv6 client: its /64); 0 means no limit. It keeps one
	// client from taking every slot of MaxOpenConnections.
	MaxConnectionsPerIP int

	// Deadlines. ReadHeaderTimeout bounds reading a request's headers;
	// ReadBodyTimeout bounds reading its body, from the end of the headers
	// (a client that trickles its body is cut off; a 16 MiB batch needs
	// about 4.5 Mbit/s at the default). WriteTimeout bounds writing a
	// response from its first byte; on an event stream, each write (the
	// stream itself may last for ever). IdleTimeout bounds a keep-alive
	// connection waiting for its next request. All must be positive.
	ReadHeaderTimeout time.Duration
	ReadBodyTimeout   time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration

	// RateLimit is each client's sustained requests per second (a client
	// is its verified certificate, else its IP address); 0 turns limiting
	// off. RateBurst is how many requests it may make at once.
	RateLimit float64
	RateBurst int

	// CommitTimeout is how long a commit-mode submit waits when the request
	// does not say; MaxCommitTimeout bounds what a request may ask for.
	CommitTimeout    time.Duration
	MaxCommitTimeout time.Duration

	// MaxEventStreams bounds concurrent GET /v1/events streams.
	MaxEventStreams int
	// EventBuffer is how many blocks of events a stream may fall behind
	// before it is ended with EVENTS_LAGGED (the client resumes).
	EventBuffer int
	// EventKeepAlive is the interval of SSE comment lines on an idle stream.
	EventKeepAlive time.Duration

	// MinPeers is the peer count /readyz requires (0 for a single node).
	MinPeers int
}

// DefaultListenAddress is where `dstt start` serves the gateway.
const DefaultListenAddress = "127.0.0.1:8080"

// DefaultMetricsListenAddress is where `dstt start` serves Prometheus
// metrics: loopback, next to CometBFT's own (127.0.0.1:26660).
const DefaultMetricsListenAddress = "127.0.0.1:26661"

// DefaultConfig returns the settings `dstt start` uses.
func DefaultConfig() Config {
	return Config{
		ListenAddress:        DefaultListenAddress,
		MetricsListenAddress: DefaultMetricsListenAddress,
		MaxBodyBytes:         16 << 20, // a full 10,000-tx batch of ~1 KiB txs as base64
		MaxBatchTxs:          10_000,
		MaxHeaderBytes:       64 << 10,
		MaxOpenConnections:   1024,
		MaxConnectionsPerIP:  128,
		ReadHeaderTimeout:    10 * time.Second,
		ReadBodyTimeout:      30 * time.Second,
		WriteTimeout:         30 * time.Second,
		IdleTimeout:          time.Minute,
		RateLimit:            5_000,
		RateBurst:            10_000,
		CommitTimeout:        30 * time.Second,
		MaxCommitTimeout:     2 * time.Minute,
		MaxEventStreams:      1024,
		EventBuffer:          1024,
		EventKeepAlive:       15 * time.Second,
	}
}

// Disabled reports whether the config turns the gateway off.
func (c Config) Disabled() bool { return c.ListenAddress == "" || c.ListenAddress == "off" }

// MetricsDisabled reports whether the config turns the metrics listener off.
func (c Config) MetricsDisabled() bool {
	return c.MetricsListenAddress == "" || c.MetricsListenAddress == "off"
}

// RegisterFlags adds the gateway's `dstt start` flags, all prefixed
// "rest-", bound to c (whose current values are the defaults shown).
func (c *Config) RegisterFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.ListenAddress, "rest-laddr", c.ListenAddress, `REST gateway listen address host:port ("off" disables it)`)
	fs.StringVar(&c.TLS.CertFile, "rest-tls-cert", c.TLS.CertFile, "REST gateway TLS certificate (PEM); with --rest-tls-key it serves HTTPS, TLS 1.3 only")
	fs.StringVar(&c.TLS.KeyFile, "rest-tls-key", c.TLS.KeyFile, "REST gateway TLS private key (PEM)")
	fs.StringVar(&c.TLS.ClientCAFile, "rest-tls-client-ca", c.TLS.ClientCAFile, "CA bundle (PEM) for REST client certificates")
	fs.StringVar(&c.TLS.ClientAuth, "rest-tls-client-auth", c.TLS.ClientAuth, `REST client certificates: none, optional or require (default: optional with a client CA, else none)`)
	fs.StringVar(&c.MetricsListenAddress, "rest-metrics-laddr", c.MetricsListenAddress, `Prometheus metrics listen address host:port, unauthenticated: keep it on loopback ("off" disables it)`)
	fs.Int64Var(&c.MaxBodyBytes, "rest-max-body-bytes", c.MaxBodyBytes, "largest REST request body")
	fs.IntVar(&c.MaxOpenConnections, "rest-max-open-connections", c.MaxOpenConnections, "most open REST connections; more are closed at once (0 = unlimited)")
	fs.IntVar(&c.MaxConnectionsPerIP, "rest-max-connections-per-ip", c.MaxConnectionsPerIP, "most open REST connections from one client IP (IPv6: one /64) (0 = unlimited)")
	fs.DurationVar(&c.ReadHeaderTimeout, "rest-read-header-timeout", c.ReadHeaderTimeout, "deadline for a REST request's headers")
	fs.DurationVar(&c.ReadBodyTimeout, "rest-read-body-timeout", c.ReadBodyTimeout, "deadline for a REST request's body, after its headers")
	fs.DurationVar(&c.WriteTimeout, "rest-write-timeout", c.WriteTimeout, "deadline for writing a REST response (each write, on an event stream)")
	fs.DurationVar(&c.IdleTimeout, "rest-idle-timeout", c.IdleTimeout, "how long an idle REST keep-alive connection is kept")
	fs.IntVar(&c.MaxBatchTxs, "rest-max-batch-txs", c.MaxBatchTxs, "most txs in one POST /v1/txs")
	fs.Float64Var(&c.RateLimit, "rest-rate-limit", c.RateLimit, "requests per second per REST client (0 = unlimited)")
	fs.IntVar(&c.RateBurst, "rest-rate-burst", c.RateBurst, "request burst per REST client")
	fs.DurationVar(&c.CommitTimeout, "rest-commit-timeout", c.CommitTimeout, "default wait for mode=commit submits")
	fs.IntVar(&c.MaxEventStreams, "rest-max-event-streams", c.MaxEventStreams, "most concurrent GET /v1/events streams")
	fs.IntVar(&c.MinPeers, "rest-ready-min-peers", c.MinPeers, "peers /readyz requires")
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	if c.Disabled() {
		return nil
	}
	var probs []string
	if host, port, err := net.SplitHostPort(c.ListenAddress); err != nil || port == "" {
		probs = append(probs, fmt.Sprintf("listen address %q: want host:port (%v)", c.ListenAddress, err))
	} else if host == "" {
		probs = append(probs, fmt.Sprintf("listen address %q: name the interface (127.0.0.1 for local clients, 0.0.0.0 for all)", c.ListenAddress))
	}
	if !c.MetricsDisabled() {
		if host, port, err := net.SplitHostPort(c.MetricsListenAddress); err != nil || port == "" {
			probs = append(probs, fmt.Sprintf("metrics listen address %q: want host:port (%v)", c.MetricsListenAddress, err))
		} else if host == "" {
			probs = append(probs, fmt.Sprintf("metrics listen address %q: name the interface (127.0.0.1 keeps the unauthenticated metrics local)", c.MetricsListenAddress))
		} else if port != "0" && c.MetricsListenAddress == c.ListenAddress {
			probs = append(probs, fmt.Sprintf("metrics listen address %q is the REST listen address: metrics need their own", c.MetricsListenAddress))
		}
	}
	t := c.TLS
	if (t.CertFile == "") != (t.KeyFile == "") {
		probs = append(probs, fmt.Sprintf("tls: cert %q and key %q: set both or neither", t.CertFile, t.KeyFile))
	}
	if t.ClientCAFile != "" && !t.Enabled() {
		probs = append(probs, "tls: a client CA needs a server certificate and key")
	}
	switch t.ClientAuth {
	case "", ClientAuthNone:
	case ClientAuthOptional, ClientAuthRequire:
		if t.ClientCAFile == "" {
			probs = append(probs, fmt.Sprintf("tls: client auth %q needs a client CA file", t.ClientAuth))
		}
	default:
		probs = append(probs, fmt.Sprintf("tls: client auth %q: want none, optional or require", t.ClientAuth))
	}
	if c.MaxBodyBytes < 1024 {
		probs = append(probs, fmt.Sprintf("max body bytes %d is below 1024", c.MaxBodyBytes))
	}
	if c.MaxBatchTxs < 1 {
		probs = append(probs, fmt.Sprintf("max batch txs %d is below 1", c.MaxBatchTxs))
	}
	if c.MaxHeaderBytes < 1024 {
		probs = append(probs, fmt.Sprintf("max header bytes %d is below 1024", c.MaxHeaderBytes))
	}
	if c.MaxOpenConnections < 0 || c.MaxConnectionsPerIP < 0 {
		probs = append(probs, fmt.Sprintf("max open connections %d, per IP %d: want >= 0 (0 = unlimited)", c.MaxOpenConnections, c.MaxConnectionsPerIP))
	} else if c.MaxOpenConnections > 0 && c.MaxConnectionsPerIP > c.MaxOpenConnections {
		probs = append(probs, fmt.Sprintf("max connections per IP %d is above max open connections %d", c.MaxConnectionsPerIP, c.MaxOpenConnections))
	}
	if c.ReadHeaderTimeout <= 0 || c.ReadBodyTimeout <= 0 || c.WriteTimeout <= 0 || c.IdleTimeout <= 0 {
		probs = append(probs, fmt.Sprintf("read header timeout %s, read body timeout %s, write timeout %s, idle timeout %s: each must be > 0",
			c.ReadHeaderTimeout, c.ReadBodyTimeout, c.WriteTimeout, c.IdleTimeout))
	}
	if c.RateLimit < 0 || (c.RateLimit > 0 && c.RateBurst < 1) {
		probs = append(probs, fmt.Sprintf("rate limit %g with burst %d: want limit >= 0 and, when limiting, burst >= 1", c.RateLimit, c.RateBurst))
	}
	if c.CommitTimeout <= 0 || c.MaxCommitTimeout < c.CommitTimeout {
		probs = append(probs, fmt.Sprintf("commit timeout %s (max %s): want 0 < timeout <= max", c.CommitTimeout, c.MaxCommitTimeout))
	}
	if c.MaxEventStreams < 0 || c.EventBuffer < 1 || c.EventKeepAlive <= 0 {
		probs = append(probs, fmt.Sprintf("events: max streams %d, buffer %d, keep-alive %s: want >= 0, >= 1, > 0", c.MaxEventStreams, c.EventBuffer, c.EventKeepAlive))
	}
	if c.MinPeers < 0 {
		probs = append(probs, fmt.Sprintf("min peers %d is negative", c.MinPeers))
	}
	if len(probs) > 0 {
		return fmt.Errorf("%w: %s", ErrConfig, strings.Join(probs, "; "))
	}
	return nil
}

// serverTLS builds the server's TLS config: TLS 1.3 only, with client
// certificates as configured.
func (t TLSConfig) serverTLS() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("rest: tls certificate: %w", err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}}
	if t.ClientCAFile == "" {
		return tc, nil
	}
	pool, err := security.LoadCertPool(t.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("rest: tls client CA: %w", err)
	}
	tc.ClientCAs = pool
	switch t.ClientAuth {
	case ClientAuthRequire:
		// A certificate that is sent must verify (in the handshake); one
		// that is missing is refused per route (certRequired), so health
		// probes need none.
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	case ClientAuthNone:
		tc.ClientAuth = tls.NoClientCert
	default:
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return tc, nil
}
