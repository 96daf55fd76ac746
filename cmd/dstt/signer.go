package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	cmtcrypto "github.com/cometbft/cometbft/crypto"
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	cmtjson "github.com/cometbft/cometbft/libs/json"
	"github.com/cometbft/cometbft/lp2p"
	"github.com/spf13/cobra"

	"github.com/dstt/dstt/consensus"
	"github.com/dstt/dstt/consensus/privval"
	"github.com/dstt/dstt/security/keyring"
	"github.com/dstt/dstt/security/vault"
)

// `dstt signer`: a CometBFT remote signer whose validator key is an ed25519
// key in Vault transit. The node listens on priv_validator_laddr; the signer
// dials it and answers its sign requests (privval.Serve), guarding against
// double signs with a durable state file (privval.ValidatorSigner). This
// file parses flags and wires Vault, the sign state and the dialer.

const (
	signerStateFile    = "priv_validator_state.json"
	signerIdentityFile = "signer_identity_key.json"
	// signerVaultTimeout keeps a Vault request inside the node's 5 s
	// read timeout, so a slow Vault costs an error, not the connection.
	signerVaultTimeout = 3 * time.Second
)

type signerFlags struct {
	stateDir    string
	key         string
	keyVersion  int
	chainID     string
	laddr       string
	journal     string
	vaultConfig string
	createKey   bool
	logLevel    string
	vaultWait   time.Duration
}

func (f *signerFlags) dir(g *globals) string {
	if f.stateDir != "" {
		return f.stateDir
	}
	return filepath.Join(g.home, "signer")
}

func newSignerCmd(g *globals) *cobra.Command {
	f := &signerFlags{}
	cmd := &cobra.Command{
		Use:   "signer",
		Short: "Remote validator signer with the consensus key in Vault (CometBFT privval)",
		Long: `Sign a validator's votes and proposals with an ed25519 key in Vault transit,
served to the node over CometBFT's remote-signer protocol. The node listens on
priv_validator_laddr (config.toml); the signer dials it, so the signer host
needs no open port. Before it returns a signature the signer makes the signed
height/round/step durable (fsync), and it refuses to sign conflicting data
for a height/round/step it signed before, also after a crash or kill -9.

  dstt signer init --key validator0               # once: state and identity (the key exists in Vault)
  dstt signer show-validator --key validator0     # the pub key for genesis (dstt init --validator-pubkey)
  dstt signer peer-id                             # peer ids for noise:// addresses
  dstt signer start --key validator0 --chain-id C --priv-validator-laddr tcp://127.0.0.1:26659

Vault: VAULT_ADDR, VAULT_CACERT, VAULT_NAMESPACE and VAULT_TOKEN, or an AppRole
(DSTT_VAULT_ROLE_ID + DSTT_VAULT_SECRET_ID or DSTT_VAULT_SECRET_ID_FILE); see
docs/KEYS.md for the policy a validator needs.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.stateDir, "state-dir", "", "signer state directory (default HOME/signer)")
	pf.StringVar(&f.key, "key", "validator", "name of the ed25519 transit key")
	pf.IntVar(&f.keyVersion, "key-version", 0, "transit key version to sign with (0 = the key's signing version)")
	pf.StringVar(&f.vaultConfig, "vault-config", "", "JSON file of non-secret Vault settings (default HOME/keyring/vault.json if present)")

	initCmd := &cobra.Command{
		Use:   "init",
		Short: "Create the signer's state file and identity key (once per validator key)",
		Args:  cobra.NoArgs,
		RunE:  func(*cobra.Command, []string) error { return g.signerInit(f) },
	}
	initCmd.Flags().BoolVar(&f.createKey, "create-key", false, "create the ed25519 transit key if it does not exist")

	show := &cobra.Command{
		Use:   "show-validator",
		Short: "Print the validator public key (CometBFT JSON, for genesis) and the signer's identity",
		Args:  cobra.NoArgs,
		RunE:  func(*cobra.Command, []string) error { return g.signerShow(f) },
	}

	start := &cobra.Command{
		Use:   "start",
		Short: "Serve sign requests to the node until interrupted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return g.signerStart(ctx, f)
		},
	}
	start.Flags().StringVar(&f.chainID, "chain-id", "", "chain to sign for (default: the home's genesis)")
	start.Flags().StringVar(&f.laddr, "priv-validator-laddr", "", "the node's priv_validator_laddr: tcp://HOST:PORT, unix://PATH or noise://NODE-PEER-ID@IP:PORT (default: the home's config.toml)")
	start.Flags().StringVar(&f.journal, "journal", "", "append one JSON line per new signature to this file (fsynced)")
	start.Flags().StringVar(&f.logLevel, "log-level", "info", "debug, info, warn, error or none")
	start.Flags().DurationVar(&f.vaultWait, "vault-wait", 60*time.Second, "how long one sign request waits for a sealed or unreachable Vault; then the signer hands it back unanswered and the node asks again, so signing resumes when Vault is back, however long it was away")
	peerID := &cobra.Command{
		Use:   "peer-id",
		Short: "Print the libp2p peer ids a noise:// priv_validator_laddr names (the node's and the signer's)",
		Long: `Print the libp2p peer id of this home's node key (the signer dials
noise://NODE-PEER-ID@IP:PORT) and of the signer's identity (the node's
priv_validator_laddr is noise://SIGNER-PEER-ID@IP:PORT). Needs no Vault.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return g.signerPeerID(f) },
	}
	cmd.AddCommand(initCmd, show, start, peerID)
	return cmd
}

// signerVault connects to Vault for the signer.
func (g *globals) signerVault(ctx context.Context, f *signerFlags, logger *slog.Logger) (*vault.Client, error) {
	cfg := vault.DefaultConfig()
	cfg.Timeout = signerVaultTimeout
	cfg.MaxRetries = 0
	path := f.vaultConfig
	if path == "" {
		path = filepath.Join(keyringDir(g.home), "vault.json")
	}
	cfg, err := vault.LoadConfigFile(path, cfg)
	if err != nil {
		return nil, err
	}
	return vault.New(ctx, vault.ConfigFromEnv(cfg), logger)
}

type signerIdentity struct {
	PrivKey cmtcrypto.PrivKey `json:"priv_key"`
}

// loadOrCreateIdentity reads the signer's connection identity (it
// authenticates the signer to a noise:// node); create makes one if missing.
func loadOrCreateIdentity(path string, create bool) (cmtcrypto.PrivKey, bool, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		var id signerIdentity
		if err := cmtjson.Unmarshal(data, &id); err != nil || id.PrivKey == nil {
			return nil, false, fmt.Errorf("signer identity %s: malformed (%v)", path, err)
		}
		return id.PrivKey, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) || !create {
		return nil, false, fmt.Errorf("signer identity: %w (run dstt signer init)", err)
	}
	key := cmted25519.GenPrivKey()
	data, err = cmtjson.MarshalIndent(signerIdentity{PrivKey: key}, "", "  ")
	if err != nil {
		return nil, false, err
	}
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("signer identity: %w", err)
	}
	_, err = fh.Write(data)
	if err == nil {
		err = fh.Sync()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, false, fmt.Errorf("signer identity: %w", err)
	}
	return key, true, nil
}

type validatorJSON struct {
	Key          string          `json:"key"`
	Version      int             `json:"version"`
	Vault        string          `json:"vault"`
	PubKey       json.RawMessage `json:"pub_key"` // CometBFT JSON, as in genesis validators
	PubKeyHex    string          `json:"pub_key_hex"`
	Address      string          `json:"address"` // CometBFT validator address
	SignerPeerID string          `json:"signer_peer_id,omitempty"`
	StateFile    string          `json:"state_file,omitempty"`
}

func (g *globals) validatorInfo(ctx context.Context, f *signerFlags, v *vault.Client) (validatorJSON, *vault.TransitSigner, error) {
	s, err := v.Signer(ctx, f.key, f.keyVersion)
	if err != nil {
		return validatorJSON{}, nil, err
	}
	pub := cmted25519.PubKey(s.PubKey())
	pj, err := cmtjson.Marshal(pub)
	if err != nil {
		return validatorJSON{}, nil, err
	}
	out := validatorJSON{Key: f.key, Version: s.Version(), Vault: v.Address(), PubKey: pj, PubKeyHex: hex.EncodeToString(pub), Address: pub.Address().String()}
	if id, _, err := loadOrCreateIdentity(filepath.Join(f.dir(g), signerIdentityFile), false); err == nil {
		if pid, err := lp2p.IDFromPrivateKey(id); err == nil {
			out.SignerPeerID = pid.String()
		}
	}
	return out, s, nil
}

func (g *globals) printValidator(out validatorJSON, extra string) error {
	return g.print(out, func(w io.Writer) {
		fmt.Fprint(w, extra)
		fmt.Fprintf(w, "validator key: %s version %d in Vault at %s\naddress:       %s\npub_key:       %s\n", out.Key, out.Version, out.Vault, out.Address, out.PubKey)
		if out.SignerPeerID != "" {
			fmt.Fprintf(w, "signer peer id (for a noise:// priv_validator_laddr): %s\n", out.SignerPeerID)
		}
	})
}

// withSignerVault runs do with the signer's Vault client, opened for at
// most 30 seconds and closed after.
func (g *globals) withSignerVault(f *signerFlags, do func(ctx context.Context, v *vault.Client) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := g.signerVault(ctx, f, nil)
	if err != nil {
		return err
	}
	defer v.Close()
	return do(ctx, v)
}

func (g *globals) signerInit(f *signerFlags) error {
	return g.withSignerVault(f, func(ctx context.Context, v *vault.Client) error {
		var extra strings.Builder
		if f.createKey {
			if _, err := v.CreateKey(ctx, f.key, vault.TransitKeyEd25519); err == nil {
				fmt.Fprintf(&extra, "created transit key %q\n", f.key)
			} else if !errors.Is(err, keyring.ErrKeyExists) {
				return fmt.Errorf("signer init: %w (creating a key needs create on %s/keys/%s; or create it as a Vault operator: vault write -f %s/keys/%s type=ed25519)",
					err, v.TransitMount(), f.key, v.TransitMount(), f.key)
			}
		}
		// The key first: an init that cannot use it leaves nothing behind.
		out, _, err := g.validatorInfo(ctx, f, v)
		if errors.Is(err, vault.ErrNotFound) {
			return fmt.Errorf("signer init: %w (create it first as a Vault operator: vault write -f %s/keys/%s type=ed25519; or pass --create-key with a token allowed to create it)",
				err, v.TransitMount(), f.key)
		}
		if err != nil {
			return fmt.Errorf("signer init: %w", err)
		}
		made, err := initSignerFiles(f.dir(g), &extra)
		if err != nil {
			return err
		}
		if out.SignerPeerID == "" && made.identity != nil {
			if pid, err := lp2p.IDFromPrivateKey(made.identity); err == nil {
				out.SignerPeerID = pid.String()
			}
		}
		out.StateFile = filepath.Join(f.dir(g), signerStateFile)
		return g.printValidator(out, extra.String())
	})
}

type signerFiles struct{ identity cmtcrypto.PrivKey }

// initSignerFiles creates the state directory, the sign state and the
// signer identity where missing, noting each in extra. On an error it
// removes whatever it created.
func initSignerFiles(dir string, extra io.Writer) (made signerFiles, err error) {
	var created []string
	defer func() {
		if err != nil {
			for i := len(created) - 1; i >= 0; i-- {
				_ = os.Remove(created[i])
			}
		}
	}()
	if _, statErr := os.Stat(dir); errors.Is(statErr, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return made, err
		}
		created = append(created, dir)
	}
	statePath := filepath.Join(dir, signerStateFile)
	newState, err := privval.InitSignState(statePath)
	if err != nil {
		return made, err
	}
	if newState {
		created = append(created, statePath)
		fmt.Fprintf(extra, "created sign state %s\n", statePath)
	} else {
		fmt.Fprintf(extra, "kept the existing sign state %s\n", statePath)
	}
	idPath := filepath.Join(dir, signerIdentityFile)
	id, newID, err := loadOrCreateIdentity(idPath, true)
	if err != nil {
		return made, err
	}
	if newID {
		created = append(created, idPath)
		fmt.Fprintf(extra, "created signer identity %s\n", idPath)
	}
	made.identity = id
	return made, nil
}

func (g *globals) signerShow(f *signerFlags) error {
	return g.withSignerVault(f, func(ctx context.Context, v *vault.Client) error {
		out, _, err := g.validatorInfo(ctx, f, v)
		if err != nil {
			return err
		}
		return g.printValidator(out, "")
	})
}

func newSlogLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	switch level {
	case "none":
		return slog.New(slog.NewTextHandler(io.Discard, nil)), nil
	case "debug":
		l = slog.LevelDebug
	case "info":
		l = slog.LevelInfo
	case "warn":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn, error or none", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func (g *globals) signerStart(ctx context.Context, f *signerFlags) error {
	logger, err := newSlogLogger(g.stderr, f.logLevel)
	if err != nil {
		return err
	}
	chainID, laddr, err := g.signerTarget(f)
	if err != nil {
		return err
	}
	dir := f.dir(g)
	identity, _, err := loadOrCreateIdentity(filepath.Join(dir, signerIdentityFile), false)
	if err != nil {
		return err
	}
	dial, err := signerDialer(laddr, identity)
	if err != nil {
		return err
	}

	vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	v, err := g.signerVault(vctx, f, logger)
	cancel()
	if err != nil {
		return err
	}
	defer v.Close()
	vctx, cancel = context.WithTimeout(ctx, 30*time.Second)
	ts, err := v.Signer(vctx, f.key, f.keyVersion)
	cancel()
	if err != nil {
		return err
	}
	cfg := privval.Config{ChainID: chainID, StateFile: filepath.Join(dir, signerStateFile), RetryFor: f.vaultWait, Logger: logger}
	if f.journal != "" {
		jf, err := os.OpenFile(f.journal, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("signer: journal: %w", err)
		}
		defer jf.Close()
		cfg.Journal = jf
	}
	pv, err := privval.NewValidatorSigner(ts, cfg)
	if err != nil {
		return err
	}
	defer pv.Close()
	h, r, s := pv.State()
	pub := cmted25519.PubKey(ts.PubKey())
	logger.Info("signer starting", "chain_id", chainID, "node", laddr, "key", f.key, "version", ts.Version(),
		"validator_address", pub.Address().String(), "vault", v.Address(), "last_height", h, "last_round", r, "last_step", s)
	fmt.Fprintf(g.stderr, "dstt signer: validator %s (Vault key %s v%d) signing for chain %q via %s; last signed %d/%d/%d\n",
		pub.Address(), f.key, ts.Version(), chainID, laddr, h, r, s)
	return privval.Serve(ctx, dial, pv, chainID, logger)
}

// signerTarget is the chain to sign for and the node's
// priv_validator_laddr: the flags, else the home's genesis and config.toml.
func (g *globals) signerTarget(f *signerFlags) (chainID, laddr string, err error) {
	chainID, laddr = f.chainID, f.laddr
	if chainID != "" && laddr != "" {
		return chainID, laddr, nil
	}
	h, err := consensus.OpenHome(g.home)
	if err != nil {
		return "", "", fmt.Errorf("signer: pass --chain-id and --priv-validator-laddr, or a --home with both: %w", err)
	}
	if chainID == "" {
		if chainID, err = h.ChainID(); err != nil {
			return "", "", err
		}
	}
	if laddr == "" {
		c, err := h.Config()
		if err != nil {
			return "", "", err
		}
		if laddr = c.PrivValidatorListenAddr; laddr == "" {
			return "", "", fmt.Errorf("signer: %s sets no priv_validator_laddr; pass --priv-validator-laddr", h.ConfigFile())
		}
	}
	return chainID, laddr, nil
}

// signerDialer parses the node's priv_validator_laddr (the one parser,
// consensus.ParseSignerAddress) and returns how to reach it.
func signerDialer(laddr string, identity cmtcrypto.PrivKey) (privval.Dialer, error) {
	addr, err := consensus.ParseSignerAddress(laddr)
	if errors.Is(err, consensus.ErrSignerScheme) {
		return nil, fmt.Errorf("signer: priv_validator_laddr %q: want tcp://HOST:PORT, unix://PATH or noise://NODE-PEER-ID@IP:PORT", laddr)
	}
	if err != nil {
		return nil, err
	}
	return privval.NodeDialer(addr, identity)
}

// externalValidator sets init's genesis validator from --validator-pubkey:
// a base64 ed25519 key, the pub_key JSON `dstt signer show-validator`
// prints, or vault:NAME, the signing version of a Vault transit key.
func (g *globals) externalValidator(f *initFlags, key string) error {
	if key == "" {
		return nil
	}
	if f.privValLaddr == "" {
		return errors.New("--validator-pubkey needs --priv-validator-laddr: the node signs through the remote signer holding that key")
	}
	var pub []byte
	switch {
	case strings.HasPrefix(key, "vault:"):
		sf := &signerFlags{key: strings.TrimPrefix(key, "vault:")}
		err := g.withSignerVault(sf, func(ctx context.Context, v *vault.Client) error {
			s, err := v.Signer(ctx, sf.key, 0)
			if err == nil {
				pub = s.PubKey()
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("--validator-pubkey %s: %w", key, err)
		}
	case strings.HasPrefix(strings.TrimSpace(key), "{"):
		var pk cmtcrypto.PubKey
		if err := cmtjson.Unmarshal([]byte(key), &pk); err != nil {
			return fmt.Errorf("--validator-pubkey: not a CometBFT pub_key JSON: %v", err)
		}
		if pk.Type() != cmted25519.KeyType {
			return fmt.Errorf("--validator-pubkey: a %s key; want %s", pk.Type(), cmted25519.KeyType)
		}
		pub = pk.Bytes()
	default:
		var err error
		if pub, err = base64.StdEncoding.DecodeString(key); err != nil {
			return fmt.Errorf("--validator-pubkey: want base64, pub_key JSON or vault:NAME: %v", err)
		}
	}
	if len(pub) != cmted25519.PubKeySize {
		return fmt.Errorf("--validator-pubkey: %d bytes; an ed25519 public key has %d", len(pub), cmted25519.PubKeySize)
	}
	f.validatorPubKey = cmted25519.PubKey(pub)
	return nil
}

type peerIDJSON struct {
	NodeID       string `json:"node_id,omitempty"`      // CometBFT node id (tcp peers)
	NodePeerID   string `json:"node_peer_id,omitempty"` // libp2p peer id of the node key
	SignerPeerID string `json:"signer_peer_id,omitempty"`
}

// signerPeerID prints the libp2p peer ids noise:// addresses name: the
// node's (from HOME/config/node_key.json, for the signer's
// --priv-validator-laddr) and the signer's (from its identity, for the
// node's priv_validator_laddr). Either may be absent on a host.
func (g *globals) signerPeerID(f *signerFlags) error {
	var out peerIDJSON
	var problems []string
	if h, err := consensus.OpenHome(g.home); err == nil {
		if out.NodePeerID, err = h.LibP2PID(); err != nil {
			problems = append(problems, err.Error())
		}
		out.NodeID, _ = h.NodeID()
	} else {
		problems = append(problems, err.Error())
	}
	if id, _, err := loadOrCreateIdentity(filepath.Join(f.dir(g), signerIdentityFile), false); err == nil {
		pid, err := lp2p.IDFromPrivateKey(id)
		if err != nil {
			return err
		}
		out.SignerPeerID = pid.String()
	} else {
		problems = append(problems, err.Error())
	}
	if out.NodePeerID == "" && out.SignerPeerID == "" {
		return fmt.Errorf("signer peer-id: neither a node home nor a signer identity: %s", strings.Join(problems, "; "))
	}
	return g.print(out, func(w io.Writer) {
		if out.NodePeerID != "" {
			fmt.Fprintf(w, "node peer id:   %s   (the signer dials noise://%s@NODE-IP:PORT)\n", out.NodePeerID, out.NodePeerID)
		}
		if out.SignerPeerID != "" {
			fmt.Fprintf(w, "signer peer id: %s   (the node's priv_validator_laddr = \"noise://%s@IP:PORT\")\n", out.SignerPeerID, out.SignerPeerID)
		}
	})
}
