package vault

import (
	"cmp"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
)

// Environment variables ConfigFromEnv reads. The first four are
// Vault's own; the AppRole ones are dstt's.
const (
	EnvAddr         = "VAULT_ADDR"
	EnvToken        = "VAULT_TOKEN"
	EnvNamespace    = "VAULT_NAMESPACE"
	EnvCACert       = "VAULT_CACERT"
	EnvRoleID       = "DSTT_VAULT_ROLE_ID"
	EnvSecretID     = "DSTT_VAULT_SECRET_ID"
	EnvSecretIDFile = "DSTT_VAULT_SECRET_ID_FILE"
	EnvTransitMount = "DSTT_VAULT_TRANSIT_MOUNT"
)

// Vault errors. Every error from this file's functions wraps one of them
// (test with errors.Is) and names the operation and the Vault path, never a
// token, secret id or key material.
var (
	// ErrConfig: Config.Validate found problems (all listed).
	ErrConfig = errors.New("vault: bad Vault configuration")
	// ErrUnreachable: no answer from Vault (refused, timeout, DNS,
	// TLS handshake). The message says which.
	ErrUnreachable = errors.New("vault: Vault unreachable")
	// ErrSealed: Vault answered but is sealed; an operator must
	// unseal it.
	ErrSealed = errors.New("vault: Vault is sealed")
	// ErrDenied: Vault refused the token (missing, expired, revoked)
	// or its policy does not allow the operation.
	ErrDenied = errors.New("vault: Vault denied the request (token invalid or policy does not allow it)")
	// ErrNotFound: the transit key (or mount) does not exist.
	ErrNotFound = errors.New("vault: not found in Vault")
	// ErrRequest: Vault refused the request for another reason
	// (bad input, key version below the minimum, ...). The message holds
	// Vault's own explanation.
	ErrRequest = errors.New("vault: Vault refused the request")
	// ErrResponse: Vault's answer was not what the API promises
	// (missing field, bad encoding, a signature that does not verify
	// against the key's public key).
	ErrResponse = errors.New("vault: unexpected answer from Vault")
)

// Config says how to reach and authenticate to Vault. Zero values
// take the defaults DefaultConfig documents.
type Config struct {
	// Address of the Vault server, e.g. https://vault.example:8200.
	Address string `json:"address,omitempty"`
	// Namespace (Vault Enterprise / HCP); empty for none.
	Namespace string `json:"namespace,omitempty"`
	// CACert is a PEM file of the CA that signed Vault's TLS certificate;
	// empty uses the system roots.
	CACert string `json:"ca_cert,omitempty"`
	// TransitMount is where the transit secrets engine is mounted.
	TransitMount string `json:"transit_mount,omitempty"`
	// Timeout bounds each request to Vault.
	Timeout time.Duration `json:"timeout,omitempty"`
	// MaxRetries of a request that failed with a 5xx or a connection error
	// (Vault's client retries with a backoff of about a second).
	MaxRetries int `json:"max_retries,omitempty"`

	// Token authenticates directly (clients, operators). Never stored in a
	// config file: it comes from VAULT_TOKEN or a flag.
	Token string `json:"-"`
	// AppRole login (nodes and signers): RoleID plus SecretID (or the file
	// SecretIDFile holding it). Used when Token is empty.
	RoleID       string `json:"role_id,omitempty"`
	SecretID     string `json:"-"`
	SecretIDFile string `json:"secret_id_file,omitempty"`
	// AppRoleMount is where the approle auth method is mounted.
	AppRoleMount string `json:"approle_mount,omitempty"`
}

// Defaults of Config.
const (
	DefaultVaultAddress      = "https://127.0.0.1:8200"
	DefaultVaultTransitMount = "transit"
	DefaultVaultAppRoleMount = "approle"
	DefaultVaultTimeout      = 10 * time.Second
	DefaultVaultMaxRetries   = 1
)

// DefaultConfig returns the defaults: Vault on https://127.0.0.1:8200,
// transit at "transit", approle at "approle", 10 s per request, one retry.
func DefaultConfig() Config {
	return Config{
		Address:      DefaultVaultAddress,
		TransitMount: DefaultVaultTransitMount,
		AppRoleMount: DefaultVaultAppRoleMount,
		Timeout:      DefaultVaultTimeout,
		MaxRetries:   DefaultVaultMaxRetries,
	}
}

// ConfigFromEnv returns base with every variable that is set in the
// environment applied over it: VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE,
// VAULT_CACERT, DSTT_VAULT_ROLE_ID, DSTT_VAULT_SECRET_ID,
// DSTT_VAULT_SECRET_ID_FILE, DSTT_VAULT_TRANSIT_MOUNT.
func ConfigFromEnv(base Config) Config {
	for _, e := range []struct {
		name string
		dst  *string
	}{
		{EnvAddr, &base.Address},
		{EnvToken, &base.Token},
		{EnvNamespace, &base.Namespace},
		{EnvCACert, &base.CACert},
		{EnvRoleID, &base.RoleID},
		{EnvSecretID, &base.SecretID},
		{EnvSecretIDFile, &base.SecretIDFile},
		{EnvTransitMount, &base.TransitMount},
	} {
		if v, ok := os.LookupEnv(e.name); ok && v != "" {
			*e.dst = v
		}
	}
	return base
}

// LoadConfigFile reads the non-secret settings of a Config from a
// JSON file (address, namespace, ca_cert, transit_mount, timeout in
// nanoseconds or as a Go duration string, max_retries, role_id,
// secret_id_file, approle_mount) over base. A missing file returns base
// unchanged. Tokens and secret ids are never read from it.
func LoadConfigFile(path string, base Config) (Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return base, nil
	}
	if err != nil {
		return base, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	var f struct {
		Config
		Timeout json.RawMessage `json:"timeout,omitempty"`
	}
	f.Config = base
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return base, fmt.Errorf("%w: %s: %v", ErrConfig, path, err)
	}
	out := f.Config
	out.Token, out.SecretID = base.Token, base.SecretID
	if len(f.Timeout) > 0 {
		var s string
		var n int64
		switch {
		case json.Unmarshal(f.Timeout, &s) == nil:
			d, err := time.ParseDuration(s)
			if err != nil {
				return base, fmt.Errorf("%w: %s: timeout %q: %v", ErrConfig, path, s, err)
			}
			out.Timeout = d
		case json.Unmarshal(f.Timeout, &n) == nil:
			out.Timeout = time.Duration(n)
		default:
			return base, fmt.Errorf("%w: %s: timeout: want a duration like \"10s\"", ErrConfig, path)
		}
	}
	return out, nil
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	c.Address = cmp.Or(c.Address, d.Address)
	c.TransitMount = cmp.Or(c.TransitMount, d.TransitMount)
	c.AppRoleMount = cmp.Or(c.AppRoleMount, d.AppRoleMount)
	c.Timeout = cmp.Or(c.Timeout, d.Timeout)
	return c
}

// Validate reports every problem at once (after defaults), wrapping
// ErrConfig. It never echoes a token or secret id.
func (c Config) Validate() error {
	c = c.withDefaults()
	var problems []string
	u, err := url.Parse(c.Address)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		problems = append(problems, fmt.Sprintf("address %q: want http(s)://host:port", c.Address))
	}
	for _, m := range []struct{ what, v string }{{"transit mount", c.TransitMount}, {"approle mount", c.AppRoleMount}} {
		if strings.Trim(m.v, "/") != m.v || strings.ContainsAny(m.v, " ?#") {
			problems = append(problems, fmt.Sprintf("%s %q: want a path without leading or trailing '/'", m.what, m.v))
		}
	}
	if c.Timeout < 0 {
		problems = append(problems, fmt.Sprintf("timeout %s: must not be negative", c.Timeout))
	}
	if c.MaxRetries < 0 {
		problems = append(problems, fmt.Sprintf("max retries %d: must not be negative", c.MaxRetries))
	}
	if c.CACert != "" {
		if _, err := os.Stat(c.CACert); err != nil {
			problems = append(problems, fmt.Sprintf("ca cert %q: %v", c.CACert, errors.Unwrap(err)))
		}
	}
	switch {
	case c.Token != "":
	case c.RoleID != "" && (c.SecretID != "" || c.SecretIDFile != ""):
	case c.RoleID != "":
		problems = append(problems, "AppRole login needs a secret id ($"+EnvSecretID+" or $"+EnvSecretIDFile+")")
	default:
		problems = append(problems, "no credentials: set $"+EnvToken+", or an AppRole ($"+EnvRoleID+" and $"+EnvSecretID+")")
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrConfig, strings.Join(problems, "; "))
	}
	return nil
}

// Vault is an authenticated connection to a Vault server: the transit
// operations dstt needs (vault_transit.go), AppRole login, and token
// renewal in the background. It is safe for concurrent use. Close stops
// the renewal.
type Client struct {
	client  *vaultapi.Client
	cfg     Config
	log     *slog.Logger
	transit string // mount, no slashes

	mu      sync.Mutex
	stop    chan struct{}
	done    chan struct{}
	closed  bool
	authErr error // last background re-login failure, if any
}

// New connects to Vault with cfg (validated first) and logs in: with
// the token, or through AppRole. A renewable token is renewed in the
// background until Close; an AppRole login is repeated when its token
// reaches its maximum TTL. logger (nil = silent) gets renewal events, never
// a token. New checks that Vault answers and is unsealed, so a bad
// address, a sealed Vault or wrong credentials fail here with
// ErrUnreachable, ErrSealed or ErrDenied.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ac := vaultapi.DefaultConfig() // also reads Vault's usual VAULT_* settings
	if ac.Error != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, ac.Error)
	}
	ac.Address = cfg.Address
	ac.Timeout = cfg.Timeout
	ac.MaxRetries = cfg.MaxRetries
	if cfg.CACert != "" {
		if err := ac.ConfigureTLS(&vaultapi.TLSConfig{CACert: cfg.CACert}); err != nil {
			return nil, fmt.Errorf("%w: ca cert %q: %v", ErrConfig, cfg.CACert, err)
		}
	}
	client, err := vaultapi.NewClient(ac)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	client.SetToken("") // NewClient picks up $VAULT_TOKEN; only cfg decides
	client.ClearNamespace()
	if cfg.Namespace != "" {
		client.SetNamespace(cfg.Namespace)
	}
	v := &Client{client: client, cfg: cfg, log: logger, transit: strings.Trim(cfg.TransitMount, "/")}
	if err := v.checkHealth(ctx); err != nil {
		return nil, err
	}
	secret, err := v.login(ctx)
	if err != nil {
		return nil, err
	}
	v.startRenewal(secret)
	return v, nil
}

// checkHealth asks sys/health (no token needed).
func (v *Client) checkHealth(ctx context.Context) error {
	h, err := v.client.Sys().HealthWithContext(ctx)
	if err != nil {
		return v.classify("health check", "sys/health", err)
	}
	if h.Sealed {
		return fmt.Errorf("%w: %s (unseal it: vault operator unseal)", ErrSealed, v.cfg.Address)
	}
	if !h.Initialized {
		return fmt.Errorf("%w: %s is not initialised (vault operator init)", ErrSealed, v.cfg.Address)
	}
	return nil
}

// login authenticates and returns the auth secret to renew (nil when the
// token is not renewable).
func (v *Client) login(ctx context.Context) (*vaultapi.Secret, error) {
	if v.cfg.Token != "" {
		v.client.SetToken(v.cfg.Token)
		s, err := v.client.Auth().Token().LookupSelfWithContext(ctx)
		if err != nil {
			return nil, v.classify("token lookup", "auth/token/lookup-self", err)
		}
		if s == nil || s.Data == nil {
			return nil, fmt.Errorf("%w: token lookup returned nothing", ErrResponse)
		}
		renewable, _ := s.TokenIsRenewable()
		ttl, _ := s.TokenTTL()
		if !renewable || ttl <= 0 {
			return nil, nil // a root or periodic-less token: nothing to renew
		}
		return &vaultapi.Secret{Auth: &vaultapi.SecretAuth{
			ClientToken: v.cfg.Token, Renewable: true, LeaseDuration: int(ttl / time.Second),
		}}, nil
	}
	secretID := v.cfg.SecretID
	if secretID == "" {
		b, err := os.ReadFile(v.cfg.SecretIDFile)
		if err != nil {
			return nil, fmt.Errorf("%w: secret id file %q: %v", ErrConfig, v.cfg.SecretIDFile, errors.Unwrap(err))
		}
		secretID = strings.TrimSpace(string(b))
	}
	path := "auth/" + strings.Trim(v.cfg.AppRoleMount, "/") + "/login"
	// Log in with a token-less copy, so a failed re-login never sends the
	// expiring token along.
	c, err := v.client.Clone()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if ns := v.client.Namespace(); ns != "" {
		c.SetNamespace(ns)
	}
	c.SetToken("")
	s, err := c.Logical().WriteWithContext(ctx, path, map[string]any{"role_id": v.cfg.RoleID, "secret_id": secretID})
	if err != nil {
		return nil, v.classify("AppRole login", path, err)
	}
	if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
		return nil, fmt.Errorf("%w: AppRole login at %s returned no token", ErrResponse, path)
	}
	v.client.SetToken(s.Auth.ClientToken)
	v.log.Info("vault: logged in with AppRole", "mount", v.cfg.AppRoleMount, "ttl", time.Duration(s.Auth.LeaseDuration)*time.Second,
		"renewable", s.Auth.Renewable)
	return s, nil
}

// startRenewal runs the lifetime watcher loop in the background.
func (v *Client) startRenewal(secret *vaultapi.Secret) {
	v.stop = make(chan struct{})
	v.done = make(chan struct{})
	go func() {
		defer close(v.done)
		for {
			if secret == nil || secret.Auth == nil || secret.Auth.LeaseDuration <= 0 ||
				(!secret.Auth.Renewable && v.cfg.Token != "") {
				return // nothing expires, or nothing can be done about it
			}
			next, ok := v.watch(secret)
			if !ok {
				return
			}
			secret = next
		}
	}()
}

// watch renews secret until it can no longer be renewed, then logs in again
// (AppRole) and returns the new secret. It returns false on Close or when
// a static token can no longer be renewed.
func (v *Client) watch(secret *vaultapi.Secret) (*vaultapi.Secret, bool) {
	if secret.Auth.Renewable {
		w, err := v.client.NewLifetimeWatcher(&vaultapi.LifetimeWatcherInput{Secret: secret})
		if err != nil {
			v.log.Error("vault: cannot watch the token lifetime", "err", err)
			return nil, false
		}
		go w.Start()
	loop:
		for {
			select {
			case <-v.stop:
				w.Stop()
				return nil, false
			case r := <-w.RenewCh():
				if r != nil && r.Secret != nil && r.Secret.Auth != nil {
					v.log.Debug("vault: token renewed", "ttl", time.Duration(r.Secret.Auth.LeaseDuration)*time.Second)
				}
			case err := <-w.DoneCh():
				w.Stop()
				if err != nil {
					v.log.Warn("vault: token renewal stopped", "err", v.classify("token renewal", "auth/token/renew-self", err))
				} else {
					v.log.Info("vault: token reached its maximum TTL")
				}
				break loop
			}
		}
	} else {
		// A non-renewable AppRole token: log in again shortly before it expires.
		ttl := time.Duration(secret.Auth.LeaseDuration) * time.Second
		wait := max(ttl*2/3, time.Second)
		select {
		case <-v.stop:
			return nil, false
		case <-time.After(wait):
		}
	}
	if v.cfg.Token != "" {
		v.log.Error("vault: the token can no longer be renewed; requests will fail once it expires (use AppRole for long-running processes)")
		return nil, false
	}
	backoff := time.Second
	for {
		ctx, cancel := context.WithTimeout(context.Background(), v.cfg.Timeout)
		s, err := v.login(ctx)
		cancel()
		v.mu.Lock()
		v.authErr = err
		v.mu.Unlock()
		if err == nil {
			return s, true
		}
		v.log.Error("vault: AppRole re-login failed; retrying", "err", err, "in", backoff)
		select {
		case <-v.stop:
			return nil, false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// Close stops the background token renewal. It does not revoke the token.
// Safe to call more than once.
func (v *Client) Close() error {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return nil
	}
	v.closed = true
	stop, done := v.stop, v.done
	v.mu.Unlock()
	// Wait with the lock released: the renewal loop takes it to record a
	// re-login's outcome, so waiting under it could deadlock.
	if stop != nil {
		close(stop)
		<-done
	}
	return nil
}

// Address is the Vault server's address.
func (v *Client) Address() string { return v.cfg.Address }

// TransitMount is the mount path of the transit engine used.
func (v *Client) TransitMount() string { return v.transit }

// Client is the underlying Vault API client, for operations this type does
// not wrap. It carries the current token: do not log it.
func (v *Client) Client() *vaultapi.Client { return v.client }

// Health reports Vault's seal state: nil when it answers and is unsealed.
func (v *Client) Health(ctx context.Context) error { return v.checkHealth(ctx) }

// classify turns a Vault API error into one of the package's sentinel
// errors with the operation and path, and Vault's own explanation; it
// builds the message itself so no request header (the token) can leak.
func (v *Client) classify(op, path string, err error) error {
	if err == nil {
		return nil
	}
	var re *vaultapi.ResponseError
	if errors.As(err, &re) {
		msg := vaultMessages(re.Errors)
		if re.RawError {
			msg = strings.TrimSpace(msg)
			if len(msg) > 200 {
				msg = msg[:200] + "..."
			}
		}
		where := fmt.Sprintf("%s %s at %s", op, path, v.cfg.Address)
		switch {
		case re.StatusCode == 503 && strings.Contains(strings.ToLower(msg), "sealed"):
			return fmt.Errorf("%w: %s (unseal it: vault operator unseal)", ErrSealed, where)
		case re.StatusCode == 403 || re.StatusCode == 401,
			re.StatusCode == 400 && strings.HasSuffix(path, "/login"): // wrong AppRole credentials
			return fmt.Errorf("%w: %s: %s", ErrDenied, where, msg)
		case re.StatusCode == 404:
			return fmt.Errorf("%w: %s: %s", ErrNotFound, where, msg)
		case re.StatusCode >= 500:
			return fmt.Errorf("%w: %s: HTTP %d: %s", ErrUnreachable, where, re.StatusCode, msg)
		default:
			return fmt.Errorf("%w: %s: HTTP %d: %s", ErrRequest, where, re.StatusCode, msg)
		}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %s %s at %s: no answer in time", ErrUnreachable, op, path, v.cfg.Address)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: %s %s at %s: cancelled", ErrUnreachable, op, path, v.cfg.Address)
	}
	return fmt.Errorf("%w: %s %s at %s: %s", ErrUnreachable, op, path, v.cfg.Address, transportProblem(err))
}

// vaultMessages flattens Vault's error strings, which often hold a
// multierror ("1 error occurred:\n\t* permission denied\n\n"), into one
// line: "permission denied".
func vaultMessages(errs []string) string {
	var out []string
	for _, e := range errs {
		for _, line := range strings.Split(e, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasSuffix(line, "error occurred:") || strings.HasSuffix(line, "errors occurred:") {
				continue
			}
			out = append(out, strings.TrimPrefix(line, "* "))
		}
	}
	return strings.Join(out, "; ")
}

// transportProblem describes a network or TLS failure in a few words,
// without URLs that could carry query parameters.
func transportProblem(err error) string {
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	var op *net.OpError
	var dns *net.DNSError
	switch {
	case errors.As(err, &ua):
		return "TLS: Vault's certificate is signed by an unknown authority (set $" + EnvCACert + " to its CA)"
	case errors.As(err, &hn):
		return "TLS: " + hn.Error()
	case errors.As(err, &ci):
		return "TLS: " + ci.Error()
	case errors.As(err, &dns):
		return "DNS: " + dns.Error()
	case errors.As(err, &op):
		if op.Op == "dial" {
			return "cannot connect: " + op.Err.Error()
		}
		return op.Op + ": " + op.Err.Error()
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return "Vault speaks plain HTTP: use an http:// address"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// vaultConfigFileName is the optional non-secret Vault settings file of a
// keyring directory (see keyring.Open's "vault" backend).
const vaultConfigFileName = "vault.json"

// ConfigForKeyring is the configuration the "vault" keyring backend
// uses for dir: DIR/vault.json if present, then the environment
// (ConfigFromEnv) over it.
func ConfigForKeyring(dir string) (Config, error) {
	cfg := DefaultConfig()
	if dir != "" {
		var err error
		if cfg, err = LoadConfigFile(filepath.Join(dir, vaultConfigFileName), cfg); err != nil {
			return cfg, err
		}
	}
	return ConfigFromEnv(cfg), nil
}
