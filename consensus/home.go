package consensus

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	cfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/crypto"
	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/types"
	"github.com/spf13/viper"
)

// Errors returned by the home functions; wrapped with details, test with errors.Is.
var (
	ErrHomeExists      = errors.New("consensus: home is already initialised")
	ErrNotInitialised  = errors.New("consensus: home is not initialised")
	ErrInvalidOptions  = errors.New("consensus: invalid init options")
	ErrInvalidConfig   = errors.New("consensus: invalid config.toml")
	ErrDBBackendAbsent = errors.New("consensus: db_backend not compiled into this binary")
)

// Defaults for InitOptions fields left empty.
const (
	DefaultChainID   = "dstt-devnet"
	DefaultMoniker   = "node0"
	DefaultP2PListen = "tcp://127.0.0.1:26656"
	DefaultRPCListen = "tcp://127.0.0.1:26657"
	// DefaultPrometheusListen is the metrics address config.toml names (Prometheus off).
	DefaultPrometheusListen = "127.0.0.1:26660"
	// HomeEnv names the environment variable that overrides DefaultHomeDir.
	HomeEnv = "DSTT_HOME"
)

// Layout, relative to the home directory. The CometBFT paths are the ones CometBFT's
// DefaultConfig uses, so config.toml stays valid for CometBFT's own tools.
const (
	configDirName   = cfg.DefaultConfigDir // "config"
	dataDirName     = cfg.DefaultDataDir   // "data"
	appDataDirName  = "app"                // under data/
	keyringDirName  = "keyring"
	dirPerm         = 0o700
	publicFilePerm  = 0o644
	privateFilePerm = 0o600
)

// Home is an initialised node home directory:
//
//	HOME/config/config.toml               CometBFT config (read by Config)
//	HOME/config/genesis.json              genesis (read by Genesis)
//	HOME/config/node_key.json             p2p identity key
//	HOME/config/priv_validator_key.json   consensus signing key
//	HOME/data/                            CometBFT's databases and WAL
//	HOME/data/priv_validator_state.json   last signed height/round/step (double-sign guard)
//	HOME/data/app/                        the application's store (owned by the app)
//	HOME/keyring/                         client keys (owned by security/)
//
// A Home holds only its path; every method reads the files afresh.
type Home struct {
	dir string
}

// InitOptions configures InitHome. Zero values take the defaults documented per field.
type InitOptions struct {
	Home      string          // directory; default DefaultHomeDir()
	ChainID   string          // default DefaultChainID, or Genesis's; 1–50 of [A-Za-z0-9._-]
	Moniker   string          // node name shown to peers; default DefaultMoniker
	AppState  json.RawMessage // genesis app_state, opaque here (genesis.json holds it indented); empty omits it
	Overwrite bool            // replace an initialised home (see InitHome)
	P2PListen string          // default DefaultP2PListen
	RPCListen string          // default DefaultRPCListen; CometBFT's RPC has no auth: keep it on loopback
	DBBackend string          // CometBFT's db_backend; default DefaultDBBackend ("goleveldb" or "pebbledb")
	// GenesisTime defaults to now. Set it to build identical genesis files on several hosts.
	GenesisTime time.Time

	// PrometheusListen is where the metrics endpoint would listen (host:port); Prometheus
	// stays off unless config.toml turns it on. Default DefaultPrometheusListen; give
	// each node of a one-host network its own.
	PrometheusListen string

	// Keys are this node's node and validator keys; nil makes fresh ones. A multi-node
	// network generates every node's keys first (GenerateNodeKeys), so the genesis and
	// the peer lists can name them all.
	Keys *NodeKeys
	// Genesis, when set, is written as this home's genesis.json instead of a genesis with
	// this node as the only validator: a multi-validator genesis (NewGenesis) shared by
	// every node, or the genesis of an existing chain this node joins. ChainID may then
	// only repeat its chain id; AppState and GenesisTime must be unset.
	Genesis *types.GenesisDoc
	// Transport is TransportTCP (default) or TransportLibP2P; every validator of a chain
	// must use the same one.
	Transport string
	// Peers are the nodes this node dials at start and reconnects to whenever the link
	// drops: persistent_peers (tcp) or persistent bootstrap_peers (libp2p).
	Peers []Peer
	// ValidatorPubKey, when set, is the only genesis validator instead of this home's
	// priv_validator_key.json: a key held elsewhere, such as a Vault transit key signed
	// with through a remote signer. ed25519 only; not together with Genesis.
	ValidatorPubKey crypto.PubKey
	// PrivValidatorListen is written as priv_validator_laddr: the node then signs through
	// a remote signer dialling in there (see remotesigner.go), not with the key file.
	PrivValidatorListen string
}

var chainIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func (o InitOptions) withDefaults() InitOptions {
	if o.Home == "" {
		o.Home = DefaultHomeDir()
	}
	if o.ChainID == "" && o.Genesis != nil {
		o.ChainID = o.Genesis.ChainID
	}
	o.ChainID = cmp.Or(o.ChainID, DefaultChainID)
	o.Moniker = cmp.Or(o.Moniker, DefaultMoniker)
	o.P2PListen = cmp.Or(o.P2PListen, DefaultP2PListen)
	o.RPCListen = cmp.Or(o.RPCListen, DefaultRPCListen)
	o.DBBackend = cmp.Or(o.DBBackend, DefaultDBBackend)
	o.PrometheusListen = cmp.Or(o.PrometheusListen, DefaultPrometheusListen)
	o.Transport = cmp.Or(o.Transport, TransportTCP)
	return o
}

// Validate reports every problem with the options at once (after defaults are applied).
func (o InitOptions) Validate() error {
	o = o.withDefaults()
	var problems []string
	if len(o.ChainID) > types.MaxChainIDLen || !chainIDPattern.MatchString(o.ChainID) {
		problems = append(problems, fmt.Sprintf("chain id %q: want 1-%d characters of [A-Za-z0-9._-], starting with a letter or digit",
			o.ChainID, types.MaxChainIDLen))
	}
	// CometBFT's config template writes the moniker unescaped inside "...".
	if strings.ContainsAny(o.Moniker, "\"\\") || strings.IndexFunc(o.Moniker, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		problems = append(problems, fmt.Sprintf("moniker %q: must not contain quotes, backslashes or control characters", o.Moniker))
	}
	if len(o.AppState) > 0 && !json.Valid(o.AppState) {
		problems = append(problems, "app state is not valid JSON")
	}
	if err := checkListenAddr(o.P2PListen); err != nil {
		problems = append(problems, fmt.Sprintf("p2p listen address %q: %v", o.P2PListen, err))
	}
	if err := checkListenAddr(o.RPCListen); err != nil {
		problems = append(problems, fmt.Sprintf("rpc listen address %q: %v", o.RPCListen, err))
	}
	if o.P2PListen == o.RPCListen {
		problems = append(problems, fmt.Sprintf("p2p and rpc listen on the same address %q", o.RPCListen))
	}
	switch o.DBBackend {
	case "goleveldb", "pebbledb":
	default:
		problems = append(problems, fmt.Sprintf("db backend %q: want goleveldb or pebbledb", o.DBBackend))
	}
	if _, _, err := net.SplitHostPort(o.PrometheusListen); err != nil {
		problems = append(problems, fmt.Sprintf("prometheus listen address %q: want host:port", o.PrometheusListen))
	}
	if o.Keys != nil {
		if err := o.Keys.validate(); err != nil {
			problems = append(problems, "keys: "+err.Error())
		}
	}
	if g := o.Genesis; g != nil {
		if o.ChainID != g.ChainID {
			problems = append(problems, fmt.Sprintf("chain id %q differs from the genesis's %q", o.ChainID, g.ChainID))
		}
		if len(o.AppState) > 0 {
			problems = append(problems, "app state is set together with a genesis (the genesis carries its own)")
		}
		if !o.GenesisTime.IsZero() {
			problems = append(problems, "genesis time is set together with a genesis (the genesis carries its own)")
		}
	}
	problems = append(problems, o.externalValidatorProblems()...)
	switch o.Transport {
	case TransportTCP, TransportLibP2P:
	default:
		problems = append(problems, fmt.Sprintf("transport %q: want %s or %s", o.Transport, TransportTCP, TransportLibP2P))
	}
	seen := map[string]int{}
	for i, p := range o.Peers {
		if err := p.validate(); err != nil {
			problems = append(problems, fmt.Sprintf("peer %d: %v", i, err))
			continue
		}
		id := p.NodeID()
		if j, dup := seen[id]; dup {
			problems = append(problems, fmt.Sprintf("peer %d: same node key as peer %d (%s)", i, j, id))
		}
		seen[id] = i
		if o.Keys != nil && o.Keys.NodeKey != nil && id == o.Keys.NodeID() {
			problems = append(problems, fmt.Sprintf("peer %d is this node itself (%s)", i, id))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidOptions, strings.Join(problems, "; "))
	}
	return nil
}

// checkListenAddr accepts tcp://host:port with a port in 1..65535.
func checkListenAddr(addr string) error {
	proto, hostPort, ok := strings.Cut(addr, "://")
	if !ok || proto != "tcp" {
		return errors.New("want tcp://host:port")
	}
	_, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		return err
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q: want 1-65535", port)
	}
	return nil
}

// DefaultHomeDir is $DSTT_HOME if set, else ~/.dstt (".dstt" if the user's home is unknown).
func DefaultHomeDir() string {
	if dir := os.Getenv(HomeEnv); dir != "" {
		return dir
	}
	userHome, err := os.UserHomeDir()
	if err != nil {
		return ".dstt"
	}
	return filepath.Join(userHome, ".dstt")
}

// externalValidatorProblems checks ValidatorPubKey and PrivValidatorListen.
func (o InitOptions) externalValidatorProblems() []string {
	var problems []string
	if o.ValidatorPubKey != nil {
		if o.ValidatorPubKey.Type() != ed25519.KeyType {
			problems = append(problems, fmt.Sprintf("validator public key of type %s: want %s", o.ValidatorPubKey.Type(), ed25519.KeyType))
		}
		if o.Genesis != nil {
			problems = append(problems, "validator public key is set together with a genesis (the genesis names its validators)")
		}
	}
	if err := checkPrivValidatorLaddr(o.PrivValidatorListen); err != nil {
		problems = append(problems, fmt.Sprintf("priv_validator_laddr %q: %v", o.PrivValidatorListen, err))
	}
	return problems
}

// InitHome creates a home: directories, config.toml tuned for one machine, fresh node and
// validator keys, and a genesis with this node as the only validator (or with
// opts.ValidatorPubKey, a key held by a remote signer).
//
// If the home already holds a chain (any of the files InitHome writes in config/, or
// anything in data/) it returns ErrHomeExists, unless opts.Overwrite is set: then those
// config files and all of data/ (CometBFT's chain, the app store, the validator state)
// are deleted first. Other files in config/ (a CLI's client settings, say) and keyring/
// are kept. A new chain needs an empty data/: blocks of the old chain would not match
// the new genesis.
func InitHome(opts InitOptions) (*Home, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	dir, err := filepath.Abs(opts.Home)
	if err != nil {
		return nil, fmt.Errorf("consensus: home %q: %w", opts.Home, err)
	}
	h := &Home{dir: dir}

	used, err := h.hasChainFiles()
	if err != nil {
		return nil, err
	}
	if used {
		if !opts.Overwrite {
			return nil, fmt.Errorf("%w: %s (remove it or pass overwrite to start a new chain)", ErrHomeExists, dir)
		}
		for _, p := range append(h.ownedConfigFiles(), h.DataDir()) {
			if err := os.RemoveAll(p); err != nil {
				return nil, fmt.Errorf("consensus: clearing %s: %w", p, err)
			}
		}
	}
	for _, d := range []string{dir, h.ConfigDir(), h.DataDir(), h.AppDataDir(), h.KeyringDir()} {
		if err := os.MkdirAll(d, dirPerm); err != nil {
			return nil, fmt.Errorf("consensus: creating %s: %w", d, err)
		}
	}

	config, err := NewConfig(h.dir, opts)
	if err != nil {
		return nil, err
	}
	keys := GenerateNodeKeys()
	if opts.Keys != nil {
		keys = *opts.Keys
	}
	pubKey, err := genValidatorKey(keys.ValidatorKey, h.PrivValidatorKeyFile(), h.PrivValidatorStateFile())
	if err != nil {
		return nil, err
	}
	if opts.ValidatorPubKey != nil {
		pubKey = opts.ValidatorPubKey
	}
	if err := genNodeKey(keys.NodeKey, h.NodeKeyFile()); err != nil {
		return nil, err
	}
	var gen *types.GenesisDoc
	if opts.Genesis != nil {
		gen, err = copyGenesis(opts.Genesis)
	} else {
		genTime := opts.GenesisTime
		if genTime.IsZero() {
			genTime = time.Now()
		}
		gen, err = NewGenesis(opts.ChainID, genTime, []types.GenesisValidator{{
			PubKey: pubKey,
			Power:  ValidatorPower,
			Name:   opts.Moniker,
		}}, opts.AppState)
	}
	if err != nil {
		return nil, err
	}
	if err := gen.SaveAs(h.GenesisFile()); err != nil {
		return nil, fmt.Errorf("consensus: writing genesis: %w", err)
	}
	if err := writeConfig(h.ConfigFile(), config); err != nil {
		return nil, err
	}
	return h, nil
}

// ownedConfigFiles are the files in config/ that InitHome writes or CometBFT keeps there.
func (h *Home) ownedConfigFiles() []string {
	return []string{
		h.ConfigFile(), h.GenesisFile(), h.NodeKeyFile(), h.PrivValidatorKeyFile(),
		filepath.Join(h.ConfigDir(), cfg.DefaultAddrBookName),
	}
}

// hasChainFiles reports whether any owned config file exists or data/ has anything in it.
func (h *Home) hasChainFiles() (bool, error) {
	for _, f := range h.ownedConfigFiles() {
		if _, err := os.Lstat(f); err == nil {
			return true, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("consensus: checking %s: %w", f, err)
		}
	}
	entries, err := os.ReadDir(h.DataDir())
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("consensus: reading %s: %w", h.DataDir(), err)
	}
	return len(entries) > 0, nil
}

// writeConfig writes c with CometBFT's own template. WriteConfigFile exits the process on
// a write error, so first prove the file is writable.
func writeConfig(path string, c *cfg.Config) error {
	if err := os.WriteFile(path, nil, publicFilePerm); err != nil {
		return fmt.Errorf("consensus: writing config: %w", err)
	}
	cfg.WriteConfigFile(path, c)
	return nil
}

// OpenHome opens an initialised home. A missing or partial home gives ErrNotInitialised.
func OpenHome(path string) (*Home, error) {
	dir, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("consensus: home %q: %w", path, err)
	}
	h := &Home{dir: dir}
	if missing := h.missingFiles(); len(missing) > 0 {
		return nil, fmt.Errorf("%w: %s has no %s; run `dstt init` to create it, or `dstt start --dev` for a throwaway dev chain",
			ErrNotInitialised, dir, strings.Join(missing, ", "))
	}
	return h, nil
}

// OpenHomeLostData opens a home whose data directory was lost (config and
// keys kept): OpenHome without data/priv_validator_state.json, which a
// restore from a backup (`dstt snapshot import`) puts back.
func OpenHomeLostData(path string) (*Home, error) {
	dir, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("consensus: home %q: %w", path, err)
	}
	h := &Home{dir: dir}
	missing := slices.DeleteFunc(h.missingFiles(), func(f string) bool { return filepath.Join(dir, f) == h.PrivValidatorStateFile() })
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: %s has no %s", ErrNotInitialised, dir, strings.Join(missing, ", "))
	}
	return h, nil
}

// IsInitialised reports whether path holds every file a node needs to start.
func IsInitialised(path string) bool {
	dir, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	return len((&Home{dir: dir}).missingFiles()) == 0
}

func (h *Home) missingFiles() []string {
	var missing []string
	for _, f := range []string{h.ConfigFile(), h.GenesisFile(), h.NodeKeyFile(), h.PrivValidatorKeyFile(), h.PrivValidatorStateFile()} {
		if st, err := os.Stat(f); err != nil || !st.Mode().IsRegular() {
			rel, _ := filepath.Rel(h.dir, f)
			missing = append(missing, rel)
		}
	}
	return missing
}

// Dir is the absolute home directory.
func (h *Home) Dir() string { return h.dir }

// ConfigDir is HOME/config.
func (h *Home) ConfigDir() string { return filepath.Join(h.dir, configDirName) }

// DataDir is HOME/data, CometBFT's database directory.
func (h *Home) DataDir() string { return filepath.Join(h.dir, dataDirName) }

// AppDataDir is HOME/data/app, where the application keeps its store.
func (h *Home) AppDataDir() string { return filepath.Join(h.DataDir(), appDataDirName) }

// KeyringDir is HOME/keyring, where client keys live.
func (h *Home) KeyringDir() string { return filepath.Join(h.dir, keyringDirName) }

// ConfigFile is HOME/config/config.toml.
func (h *Home) ConfigFile() string {
	return filepath.Join(h.ConfigDir(), cfg.DefaultConfigFileName)
}

// GenesisFile is HOME/config/genesis.json.
func (h *Home) GenesisFile() string {
	return filepath.Join(h.ConfigDir(), cfg.DefaultGenesisJSONName)
}

// NodeKeyFile is HOME/config/node_key.json.
func (h *Home) NodeKeyFile() string { return filepath.Join(h.ConfigDir(), cfg.DefaultNodeKeyName) }

// PrivValidatorKeyFile is HOME/config/priv_validator_key.json.
func (h *Home) PrivValidatorKeyFile() string {
	return filepath.Join(h.ConfigDir(), cfg.DefaultPrivValKeyName)
}

// PrivValidatorStateFile is HOME/data/priv_validator_state.json.
func (h *Home) PrivValidatorStateFile() string {
	return filepath.Join(h.DataDir(), cfg.DefaultPrivValStateName)
}

// Config reads config.toml over CometBFT's defaults, roots it at the home and validates it.
// The file locations in it must match the home layout (ErrInvalidConfig lists every
// mismatch): move files by moving the home, not by editing paths.
func (h *Home) Config() (*cfg.Config, error) {
	if _, err := os.Stat(h.ConfigFile()); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s has no config.toml", ErrNotInitialised, h.dir)
		}
		return nil, fmt.Errorf("consensus: reading config: %w", err)
	}
	// The way CometBFT's own command reads it: viper over the defaults,
	// decoded through the config structs' mapstructure tags.
	v := viper.New()
	v.SetConfigFile(h.ConfigFile())
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidConfig, h.ConfigFile(), err)
	}
	c := cfg.DefaultConfig()
	if err := v.Unmarshal(c); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidConfig, h.ConfigFile(), err)
	}
	c.SetRoot(h.dir)
	var problems []string
	for _, p := range []struct{ key, got, want string }{
		{"genesis_file", c.GenesisFile(), h.GenesisFile()},
		{"node_key_file", c.NodeKeyFile(), h.NodeKeyFile()},
		{"priv_validator_key_file", c.PrivValidatorKeyFile(), h.PrivValidatorKeyFile()},
		{"priv_validator_state_file", c.PrivValidatorStateFile(), h.PrivValidatorStateFile()},
		{"db_dir", c.DBDir(), h.DataDir()},
	} {
		if filepath.Clean(p.got) != p.want {
			problems = append(problems, fmt.Sprintf("%s is %s, want %s", p.key, p.got, p.want))
		}
	}
	if err := checkPrivValidatorLaddr(c.PrivValidatorListenAddr); err != nil {
		problems = append(problems, fmt.Sprintf("priv_validator_laddr %q: %v", c.PrivValidatorListenAddr, err))
	}
	if err := c.ValidateBasic(); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s: %s", ErrInvalidConfig, h.ConfigFile(), strings.Join(problems, "; "))
	}
	return c, nil
}

// Genesis reads and validates genesis.json.
func (h *Home) Genesis() (*types.GenesisDoc, error) {
	gen, err := types.GenesisDocFromFile(h.GenesisFile())
	if err != nil {
		return nil, fmt.Errorf("consensus: %w", err)
	}
	return gen, nil
}

// ChainID is the chain id in genesis.json.
func (h *Home) ChainID() (string, error) {
	gen, err := h.Genesis()
	if err != nil {
		return "", err
	}
	return gen.ChainID, nil
}

// NodeID is this node's p2p ID (the hex address of its node key), as used in
// persistent_peers ("ID@host:port").
func (h *Home) NodeID() (string, error) {
	key, err := p2p.LoadNodeKey(h.NodeKeyFile())
	if err != nil {
		return "", fmt.Errorf("consensus: loading node key: %w", err)
	}
	return string(key.ID()), nil
}

// NodePubKey is the public key of this node's p2p key: what another node's InitOptions.Peers
// names it by.
func (h *Home) NodePubKey() (crypto.PubKey, error) {
	key, err := p2p.LoadNodeKey(h.NodeKeyFile())
	if err != nil {
		return nil, fmt.Errorf("consensus: loading node key: %w", err)
	}
	return key.PubKey(), nil
}

// LibP2PID is this node's libp2p peer ID ("12D3KooW..."), the id other nodes list in
// [p2p.libp2p] bootstrap_peers.
func (h *Home) LibP2PID() (string, error) {
	pub, err := h.NodePubKey()
	if err != nil {
		return "", err
	}
	return LibP2PID(pub)
}

// AsPeer is this node as another node's Peer: its node key and the address config.toml
// gives for it (p2p.external_address if set, else p2p.laddr; host:port), e.g. for a node
// that joins the chain later.
func (h *Home) AsPeer() (Peer, error) {
	pub, err := h.NodePubKey()
	if err != nil {
		return Peer{}, err
	}
	c, err := h.Config()
	if err != nil {
		return Peer{}, err
	}
	addr := c.P2P.ListenAddress
	if c.P2P.ExternalAddress != "" {
		addr = c.P2P.ExternalAddress
	}
	if _, hostPort, ok := strings.Cut(addr, "://"); ok {
		addr = hostPort
	}
	return Peer{NodeKey: pub, Address: addr}, nil
}

// ValidatorPubKey is the consensus public key of this node's validator key.
func (h *Home) ValidatorPubKey() (crypto.PubKey, error) {
	key, err := loadValidatorKey(h.PrivValidatorKeyFile())
	if err != nil {
		return nil, err
	}
	return key.PubKey, nil
}
