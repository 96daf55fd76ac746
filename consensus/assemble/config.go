package assemble

import (
	"errors"
	"fmt"
	"io"

	"github.com/cometbft/cometbft/libs/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dstt/dstt/transport/rest"
)

// ErrInvalidConfig is returned by Validate and New for a bad Config.
var ErrInvalidConfig = errors.New("assemble: invalid config")

// DefaultVerifierCacheSize is how many verified signatures the engine's
// verifier remembers (shared with the gateway, which pre-verifies batches).
const DefaultVerifierCacheSize = 1 << 18

// Config is everything `dstt start` decides about a node.
type Config struct {
	// Home is the node home directory (consensus.InitHome made it). Required.
	Home string
	// Logger receives dstt's structured logs (the ABCI adapter as module
	// dstt, the gateway as rest, the sinks as audit); nil is silent.
	Logger log.Logger
	// CometLogger receives CometBFT's logs; nil is silent.
	CometLogger log.Logger
	// Console receives what an operator must see: warnings about an unsafe
	// public RPC, a recovered node log, a gateway that could not listen.
	// Nil discards them.
	Console io.Writer
	// REST configures the gateway; REST.Disabled() runs none.
	REST rest.Config
	// Gateway are the gateway's collaborators. Nil fields are filled in:
	// Verifier with the engine's cached verifier, Logger from Logger,
	// SecurityLog with the node security log.
	Gateway rest.Options
	// VerifierCacheSize is the engine verifier's cache size; 0 means
	// DefaultVerifierCacheSize.
	VerifierCacheSize int
	// UnsafePublicRPC lets CometBFT's RPC listen beyond loopback on a chain
	// with access control (a warning on Console, an entry in the node log).
	UnsafePublicRPC bool
	// AcceptTruncatedNodeLog opens a truncated or damaged node security log,
	// continuing after the highest seq ever written (recorded in the log).
	AcceptTruncatedNodeLog bool
	// Metrics, when set, also receives the audit sinks' metrics (an
	// embedding program's registry). They always register with the node's
	// own registry, which the gateway's metrics address serves beside its
	// own series.
	Metrics prometheus.Registerer
}

// DefaultConfig is what `dstt start` runs with before flags: the gateway
// on rest.DefaultConfig, the default verifier cache, no public RPC.
func DefaultConfig() Config {
	return Config{REST: rest.DefaultConfig(), VerifierCacheSize: DefaultVerifierCacheSize}
}

// Validate reports every problem at once, wrapped in ErrInvalidConfig.
func (c Config) Validate() error {
	var errs []error
	if c.Home == "" {
		errs = append(errs, errors.New("Home is empty: want an initialised node home"))
	}
	if c.VerifierCacheSize < 0 {
		errs = append(errs, fmt.Errorf("VerifierCacheSize %d is negative", c.VerifierCacheSize))
	}
	if err := c.REST.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("REST: %w", err))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = log.NewNopLogger()
	}
	if c.CometLogger == nil {
		c.CometLogger = log.NewNopLogger()
	}
	if c.Console == nil {
		c.Console = io.Discard
	}
	if c.VerifierCacheSize == 0 {
		c.VerifierCacheSize = DefaultVerifierCacheSize
	}
	return c
}
