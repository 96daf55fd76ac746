package rest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// ErrConfig is returned (wrapped) by Config.Validate.
var ErrConfig = errors.New("rest: invalid config")

// Client-certificate policies for TLSConfig.ClientAuth.
const (
	ClientAuthNone     = "none"     // no client certificates asked for
	ClientAuthOptional = "optional" // verified against ClientCAFile when a client sends one
	ClientAuthRequire  = "require"  // every client must present one that verifies
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

	// MaxBodyBytes bounds a request body (a batch of txs as base64 JSON).
	MaxBodyBytes int64
	// MaxBatchTxs bounds the txs in one POST /v1/txs.
	MaxBatchTxs int
	// MaxHeaderBytes bounds request headers.
	MaxHeaderBytes int

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

	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
}

// DefaultListenAddress is where `dstt start` serves the gateway.
const DefaultListenAddress = "127.0.0.1:8080"

// DefaultConfig returns the settings `dstt start` uses.
func DefaultConfig() Config {
	return Config{
		ListenAddress:     DefaultListenAddress,
		MaxBodyBytes:      16 << 20, // a full 10,000-tx batch of ~1 KiB txs as base64
		MaxBatchTxs:       10_000,
		MaxHeaderBytes:    64 << 10,
		RateLimit:         5_000,
		RateBurst:         10_000,
		CommitTimeout:     30 * time.Second,
		MaxCommitTimeout:  2 * time.Minute,
		MaxEventStreams:   1024,
		EventBuffer:       1024,
		EventKeepAlive:    15 * time.Second,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
}

// Disabled reports whether the config turns the gateway off.
func (c Config) Disabled() bool { return c.ListenAddress == "" || c.ListenAddress == "off" }

// RegisterFlags adds the gateway's `dstt start` flags, all prefixed
// "rest-", bound to c (whose current values are the defaults shown).
func (c *Config) RegisterFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.ListenAddress, "rest-laddr", c.ListenAddress, `REST gateway listen address host:port ("off" disables it)`)
	fs.StringVar(&c.TLS.CertFile, "rest-tls-cert", c.TLS.CertFile, "REST gateway TLS certificate (PEM); with --rest-tls-key it serves HTTPS, TLS 1.3 only")
	fs.StringVar(&c.TLS.KeyFile, "rest-tls-key", c.TLS.KeyFile, "REST gateway TLS private key (PEM)")
	fs.StringVar(&c.TLS.ClientCAFile, "rest-tls-client-ca", c.TLS.ClientCAFile, "CA bundle (PEM) for REST client certificates")
	fs.StringVar(&c.TLS.ClientAuth, "rest-tls-client-auth", c.TLS.ClientAuth, `REST client certificates: none, optional or require (default: optional with a client CA, else none)`)
	fs.Int64Var(&c.MaxBodyBytes, "rest-max-body-bytes", c.MaxBodyBytes, "largest REST request body")
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
	pem, err := os.ReadFile(t.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("rest: tls client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("rest: tls client CA %s: no PEM certificates in it", t.ClientCAFile)
	}
	tc.ClientCAs = pool
	switch t.ClientAuth {
	case ClientAuthRequire:
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	case ClientAuthNone:
		tc.ClientAuth = tls.NoClientCert
	default:
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return tc, nil
}
