package sink

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/dstt/dstt/audit/format"
)

// ConfigFile is where a node home keeps its audit configuration.
const ConfigFile = "config/audit.toml"

// Config is HOME/config/audit.toml: the node security chain and the sinks.
// Relative paths are relative to the node home (see Resolve). A missing
// file means DefaultConfig: the node log on, no sinks.
type Config struct {
	NodeLog NodeLogConfig `toml:"node_log"`
	Sinks   []SinkConfig  `toml:"sink"`
}

// NodeLogConfig configures the node security chain.
type NodeLogConfig struct {
	Disabled bool   `toml:"disabled"` // true: no node log (not recommended)
	Path     string `toml:"path"`     // default data/audit/node.log
	KeyFile  string `toml:"key_file"` // the audit signing key, created if missing; default config/audit_key.json
}

// Types of sink.
const (
	TypeSyslog = "syslog"
	TypeHTTP   = "http"
	TypeFile   = "file"
)

// SinkConfig is one [[sink]] table.
type SinkConfig struct {
	Name     string `toml:"name"`     // unique; names the cursor file and the metrics label
	Type     string `toml:"type"`     // syslog | http | file
	Chain    string `toml:"chain"`    // consensus (default) | node
	Format   string `toml:"format"`   // cef | leef | rfc5424 | ecs | ocsf | hec | json | text; default rfc5424 (syslog), hec (http), json (file)
	Disabled bool   `toml:"disabled"` // keep the table but do not ship

	// syslog
	Address    string `toml:"address"`     // host:port
	TLS        bool   `toml:"tls"`         // RFC 5425 syslog over TLS
	CAFile     string `toml:"ca_file"`     // CA bundle (PEM) for the receiver's certificate (syslog TLS or https); default: system roots
	CertFile   string `toml:"cert_file"`   // client certificate (PEM), when the receiver asks for one
	KeyFile    string `toml:"key_file"`    // its key (PEM)
	ServerName string `toml:"server_name"` // name to verify in the receiver's certificate; default: address host
	Framing    string `toml:"framing"`     // octet-counting (default) | lf

	// http
	URL         string            `toml:"url"`
	Mode        string            `toml:"mode"`         // hec | bulk | ndjson; default hec for format hec, bulk for ecs, else ndjson
	Index       string            `toml:"index"`        // bulk _index, or HEC index
	TokenHeader string            `toml:"token_header"` // default Authorization
	TokenPrefix string            `toml:"token_prefix"` // default "Splunk " / "ApiKey " / "Bearer " by mode
	Token       string            `toml:"token"`        // prefer token_env
	TokenEnv    string            `toml:"token_env"`    // environment variable holding the token
	Headers     map[string]string `toml:"headers"`

	// http, mode hec: see HECAckIndexed
	HECChannel    string   `toml:"hec_channel"`     // X-Splunk-Request-Channel GUID; default: generated once, kept in the cursor directory (NAME.channel)
	HECAck        string   `toml:"hec_ack"`         // indexed (default: indexer acknowledgement) | received (HTTP 200 only, weaker)
	HECAckTimeout Duration `toml:"hec_ack_timeout"` // resend a batch not acknowledged within this; default 5m
	HECAckPoll    Duration `toml:"hec_ack_poll"`    // longest wait between ack queries; default 10s
	HECMaxPending int      `toml:"hec_max_pending"` // batches in flight awaiting acknowledgement; default 8

	// file
	Path     string `toml:"path"`
	MaxBytes int64  `toml:"max_bytes"` // default 100 MiB
	MaxFiles int    `toml:"max_files"` // default 5

	// format options
	Hostname string `toml:"hostname"` // default: the machine's host name
	AppName  string `toml:"app_name"` // default dstt
	Facility int    `toml:"facility"` // default 13 (log audit)
	SDID     string `toml:"sd_id"`    // default dstt@32473 (use your own enterprise number)
	// CEF/LEEF device vendor, product and version (also ECS observer.* and
	// OCSF metadata.product); default dstt, dstt, this build's version.
	Vendor         string `toml:"vendor"`
	Product        string `toml:"product"`
	ProductVersion string `toml:"product_version"`

	// delivery
	BatchSize    int      `toml:"batch_size"`    // default 1000
	PollInterval Duration `toml:"poll_interval"` // default 1s
	Timeout      Duration `toml:"timeout"`       // per send; default 30s
	MinBackoff   Duration `toml:"min_backoff"`   // default 100ms
	MaxBackoff   Duration `toml:"max_backoff"`   // default 30s
	ResendBytes  int64    `toml:"resend_bytes"`  // syslog: see Rewinder; default 16 MiB
}

// Duration is a time.Duration written as a string: "500ms", "30s".
type Duration time.Duration

// UnmarshalText parses a Go duration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes a Go duration.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// DefaultConfig is the configuration of a home without audit.toml.
func DefaultConfig() Config {
	return Config{NodeLog: NodeLogConfig{Path: "data/audit/node.log", KeyFile: "config/audit_key.json"}}
}

// LoadConfig reads path over DefaultConfig (a missing file gives
// DefaultConfig), rejects unknown keys, and validates.
func LoadConfig(path string) (Config, error) {
	c := DefaultConfig()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	dec := toml.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		var sm *toml.StrictMissingError
		if errors.As(err, &sm) {
			return c, fmt.Errorf("%s: %s", path, sm.String())
		}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return c, fmt.Errorf("%s:%d:%d: %v", path, row, col, de)
		}
		return c, fmt.Errorf("%s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func (s SinkConfig) withDefaults() SinkConfig {
	if s.Chain == "" {
		s.Chain = "consensus"
	}
	if s.Format == "" {
		s.Format = map[string]string{TypeSyslog: format.RFC5424, TypeHTTP: format.HEC, TypeFile: format.JSON}[s.Type]
	}
	if s.Type == TypeHTTP && s.Mode == "" {
		switch s.Format {
		case format.HEC:
			s.Mode = ModeHEC
		case format.ECS:
			s.Mode = ModeBulk
		default:
			s.Mode = ModeNDJSON
		}
	}
	return s
}

// Validate reports every problem at once, with the values.
func (c Config) Validate() error {
	var p problems
	if !c.NodeLog.Disabled && (c.NodeLog.Path == "" || c.NodeLog.KeyFile == "") {
		p.add("node_log: path and key_file are required unless disabled")
	}
	names := map[string]bool{}
	for i, s := range c.Sinks {
		s = s.withDefaults()
		s.validate(fmt.Sprintf("sink %d (%q)", i+1, s.Name), names, &p)
	}
	if len(p) > 0 {
		return fmt.Errorf("audit config: %s", strings.Join(p, "; "))
	}
	return nil
}

// problems collects what Validate finds wrong, to report it all at once.
type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// validate adds to p what is wrong with s (with defaults applied), each
// problem prefixed by where; names are the sink names seen so far.
func (s SinkConfig) validate(where string, names map[string]bool, p *problems) {
	if !sinkName.MatchString(s.Name) {
		p.add("%s: name must be 1-64 of A-Z a-z 0-9 . _ - (starting with a letter or digit)", where)
	}
	if names[s.Name] {
		p.add("%s: name used twice", where)
	}
	names[s.Name] = true
	if s.Chain != "consensus" && s.Chain != "node" {
		p.add("%s: chain %q is not consensus or node", where, s.Chain)
	}
	if _, err := format.New(s.Format, s.formatOptions("", "")); err != nil {
		p.add("%s: %v", where, err)
	}
	switch s.Type {
	case TypeSyslog:
		s.validateSyslog(where, p)
	case TypeHTTP:
		s.validateHTTP(where, p)
	case TypeFile:
		s.validateFile(where, p)
	default:
		p.add("%s: type %q is not syslog, http or file", where, s.Type)
	}
	if s.BatchSize < 0 {
		p.add("%s: batch_size %d is negative", where, s.BatchSize)
	}
	if s.MaxBackoff > 0 && s.MinBackoff > s.MaxBackoff {
		p.add("%s: min_backoff %v is above max_backoff %v", where, time.Duration(s.MinBackoff), time.Duration(s.MaxBackoff))
	}
}

func (s SinkConfig) validateSyslog(where string, p *problems) {
	if _, _, err := net.SplitHostPort(s.Address); err != nil {
		p.add("%s: address %q: %v", where, s.Address, err)
	}
	if s.Framing != "" && s.Framing != FramingOctetCounting && s.Framing != FramingLF {
		p.add("%s: framing %q is not %s or %s", where, s.Framing, FramingOctetCounting, FramingLF)
	}
	if (s.CertFile == "") != (s.KeyFile == "") {
		p.add("%s: cert_file and key_file go together", where)
	}
	if !s.TLS && (s.CAFile != "" || s.CertFile != "") {
		p.add("%s: ca_file/cert_file need tls = true", where)
	}
}

func (s SinkConfig) validateHTTP(where string, p *problems) {
	if !strings.HasPrefix(s.URL, "http://") && !strings.HasPrefix(s.URL, "https://") {
		p.add("%s: url %q is not http:// or https://", where, s.URL)
	}
	switch s.Mode {
	case ModeHEC:
		if s.Format != format.HEC {
			p.add("%s: mode hec needs format hec, not %q", where, s.Format)
		}
	case ModeBulk:
		if s.Format != format.ECS && s.Format != format.OCSF && s.Format != format.JSON {
			p.add("%s: mode bulk needs a JSON document format (ecs, ocsf, json), not %q", where, s.Format)
		}
	case ModeNDJSON:
	default:
		p.add("%s: mode %q is not hec, bulk or ndjson", where, s.Mode)
	}
	if (s.CertFile == "") != (s.KeyFile == "") {
		p.add("%s: cert_file and key_file go together", where)
	}
	if s.Token != "" && s.TokenEnv != "" {
		p.add("%s: token and token_env are exclusive", where)
	}
	s.validateHEC(where, p)
}

func (s SinkConfig) validateFile(where string, p *problems) {
	if s.Path == "" {
		p.add("%s: path is required", where)
	}
	if s.MaxBytes < 0 || s.MaxFiles < 0 {
		p.add("%s: max_bytes %d and max_files %d must not be negative", where, s.MaxBytes, s.MaxFiles)
	}
}

// Resolve makes the relative paths of c absolute against home.
func (c Config) Resolve(home string) Config {
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(home, p)
	}
	c.NodeLog.Path = abs(c.NodeLog.Path)
	c.NodeLog.KeyFile = abs(c.NodeLog.KeyFile)
	sinks := make([]SinkConfig, len(c.Sinks))
	for i, s := range c.Sinks {
		s.CAFile, s.CertFile, s.KeyFile, s.Path = abs(s.CAFile), abs(s.CertFile), abs(s.KeyFile), abs(s.Path)
		sinks[i] = s
	}
	c.Sinks = sinks
	return c
}

func (s SinkConfig) formatOptions(hostname, chainID string) format.Options {
	if s.Hostname != "" {
		hostname = s.Hostname
	}
	return format.Options{
		Hostname: hostname, AppName: s.AppName, Facility: s.Facility, SDID: s.SDID,
		Vendor: s.Vendor, Product: s.Product, ProductVersion: s.ProductVersion,
		Chain: s.Chain, ChainID: chainID, HECIndex: s.Index,
	}
}

// Build makes the sink described by s. hostname and chainID fill the
// format options s leaves empty.
func (s SinkConfig) Build(hostname, chainID string) (Sink, error) {
	s = s.withDefaults()
	fopts := s.formatOptions(hostname, chainID)
	f, err := format.New(s.Format, fopts)
	if err != nil {
		return nil, fmt.Errorf("sink %s: %w", s.Name, err)
	}
	switch s.Type {
	case TypeSyslog:
		opts := SyslogOptions{Address: s.Address, Framing: s.Framing, WriteTimeout: time.Duration(s.Timeout), ResendBytes: s.ResendBytes}
		if s.TLS {
			if opts.TLS, err = s.tlsConfig(); err != nil {
				return nil, err
			}
		}
		return NewSyslogSink(s.Name, f, fopts, opts)
	case TypeHTTP:
		token := s.Token
		if s.TokenEnv != "" {
			token = os.Getenv(s.TokenEnv)
			if token == "" {
				return nil, fmt.Errorf("sink %s: $%s is empty", s.Name, s.TokenEnv)
			}
		}
		opts := HTTPOptions{
			URL: s.URL, Mode: s.Mode, Index: s.Index, TokenHeader: s.TokenHeader, Token: token,
			TokenPrefix: s.TokenPrefix, Headers: s.Headers, Timeout: time.Duration(s.Timeout),
			Channel: s.HECChannel, Ack: s.HECAck, AckTimeout: time.Duration(s.HECAckTimeout), AckPollInterval: time.Duration(s.HECAckPoll),
			AckWindow: s.HECMaxPending,
		}
		if s.CAFile != "" || s.CertFile != "" || s.ServerName != "" {
			tc, err := s.tlsConfig()
			if err != nil {
				return nil, err
			}
			timeout := opts.Timeout
			if timeout <= 0 {
				timeout = 10 * time.Second
			}
			opts.Client = &http.Client{Timeout: timeout, Transport: &http.Transport{
				TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 2, IdleConnTimeout: 90 * time.Second,
			}}
		}
		return NewHTTPSink(s.Name, f, fopts, opts)
	case TypeFile:
		return NewFileSink(s.Name, f, FileOptions{Path: s.Path, MaxBytes: s.MaxBytes, MaxFiles: s.MaxFiles})
	}
	return nil, fmt.Errorf("sink %s: type %q is not syslog, http or file", s.Name, s.Type)
}

func (s SinkConfig) tlsConfig() (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: s.ServerName}
	if c.ServerName == "" && s.Type == TypeSyslog {
		c.ServerName, _, _ = net.SplitHostPort(s.Address)
	}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, fmt.Errorf("sink %s: ca_file: %w", s.Name, err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("sink %s: ca_file %s holds no PEM certificate", s.Name, s.CAFile)
		}
	}
	if s.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("sink %s: client certificate: %w", s.Name, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// ShipperOptions returns the delivery options of s.
func (s SinkConfig) ShipperOptions() ShipperOptions {
	s = s.withDefaults()
	return ShipperOptions{
		Chain: s.Chain, BatchSize: s.BatchSize, PollInterval: time.Duration(s.PollInterval),
		SendTimeout: time.Duration(s.Timeout), MinBackoff: time.Duration(s.MinBackoff), MaxBackoff: time.Duration(s.MaxBackoff),
	}
}
