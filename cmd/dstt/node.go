package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	cmtcrypto "github.com/cometbft/cometbft/crypto"
	"github.com/cometbft/cometbft/libs/log"
	"github.com/spf13/cobra"

	"github.com/dstt/dstt/abci"
	"github.com/dstt/dstt/abci/engine"
	"github.com/dstt/dstt/consensus"
	"github.com/dstt/dstt/consensus/assemble"
	"github.com/dstt/dstt/security/keyring"
)

// devKeyName is the key `start --dev` creates in the test keyring.
const devKeyName = "dev"

type initFlags struct {
	admins           []string
	snapshotInterval uint64
	chainID          string
	moniker          string
	overwrite        bool
	rpcListen        string
	p2pListen        string
	// an external validator key (init only): its public key, and where the
	// node listens for its remote signer
	validatorPubKey cmtcrypto.PubKey
	privValLaddr    string
}

func (f *initFlags) register(cmd *cobra.Command, defaultChain string) {
	cmd.Flags().StringVar(&f.chainID, "chain-id", defaultChain, "chain id written into genesis")
	cmd.Flags().StringVar(&f.moniker, "moniker", "node0", "this node's name")
	cmd.Flags().StringVar(&f.rpcListen, "rpc-laddr", "tcp://127.0.0.1:26657", "CometBFT RPC listen address")
	cmd.Flags().StringVar(&f.p2pListen, "p2p-laddr", "tcp://127.0.0.1:26656", "CometBFT P2P listen address")
}

func (f *initFlags) initHome(home string) (*consensus.Home, error) {
	gen := engine.DefaultGenesisState()
	gen.Admins = f.admins
	gen.Params.SnapshotInterval = f.snapshotInterval
	if err := gen.Params.Validate(); err != nil {
		return nil, err
	}
	appState, err := json.Marshal(gen)
	if err != nil {
		return nil, err
	}
	return consensus.InitHome(consensus.InitOptions{
		Home: home, ChainID: f.chainID, Moniker: f.moniker, AppState: appState,
		Overwrite: f.overwrite, RPCListen: f.rpcListen, P2PListen: f.p2pListen,
		ValidatorPubKey: f.validatorPubKey, PrivValidatorListen: f.privValLaddr,
	})
}

func newInitCmd(g *globals) *cobra.Command {
	f := &initFlags{}
	var validatorKey string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a node home: config, genesis, node and validator keys",
		Long: `Create a node home (default ~/.dstt): CometBFT config tuned for low latency,
a genesis with this node as the only validator, a node key and a validator
key. Refuses to touch an existing home unless --overwrite.

With --validator-pubkey the genesis validator is a key held elsewhere, such
as a Vault transit key served by "dstt signer": give its public key (base64,
or the pub_key JSON "dstt signer show-validator" prints) or vault:NAME to
read it from Vault, and --priv-validator-laddr where the node listens for
the signer.`,
		Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			if err := g.externalValidator(f, validatorKey); err != nil {
				return err
			}
			h, err := f.initHome(g.home)
			if err != nil {
				return err
			}
			if len(f.admins) == 0 {
				fmt.Fprintln(g.stderr, "warning: no --admin given: access control is OFF on this chain (every signer may do everything)")
			} else if !consensus.IsLoopbackListen(f.rpcListen) {
				fmt.Fprintf(g.stderr, "warning: --rpc-laddr %s is not loopback: with access control on, dstt start refuses it (CometBFT's RPC serves every value unauthenticated) unless --unsafe-public-rpc\n", f.rpcListen)
			}
			if err := saveClientConfig(g.home, clientConfig{RPC: f.rpcListen}); err != nil {
				return err
			}
			return g.print(map[string]string{"home": g.home, "chain_id": f.chainID}, func(w io.Writer) {
				fmt.Fprintf(w, "initialised %s for chain %q\n", h.Dir(), f.chainID)
				if f.privValLaddr != "" {
					fmt.Fprintf(w, "the validator signs through a remote signer dialling %s: start it (dstt signer start), then dstt start\n", f.privValLaddr)
				} else {
					fmt.Fprintln(w, "next: dstt keys add NAME, then dstt start")
				}
			})
		},
	}
	f.register(cmd, "dstt-local")
	cmd.Flags().StringVar(&validatorKey, "validator-pubkey", "", "genesis validator key held elsewhere (a remote signer): base64 ed25519 key, its pub_key JSON, or vault:NAME (read from Vault transit)")
	cmd.Flags().StringVar(&f.privValLaddr, "priv-validator-laddr", "", "listen here for a remote signer (tcp://HOST:PORT, unix://PATH, noise://SIGNER-PEER-ID@IP:PORT) instead of using the local validator key")
	cmd.Flags().StringSliceVar(&f.admins, "admin", nil, "address of a genesis admin (admin in every domain); repeatable. Without one, access control is off")
	cmd.Flags().BoolVar(&f.overwrite, "overwrite", false, "re-create an existing home: new config, genesis and keys; DELETES data/ (the chain and app state); keeps keyring/")
	cmd.Flags().Uint64Var(&f.snapshotInterval, "snapshot-interval", 0, "chain param snapshot_interval in genesis: a verifiable state snapshot every N heights, for backups (dstt snapshot) and nodes that join by state sync; 0: none")
	return cmd
}

// startOptions are the flags of `dstt start` beyond the home's files.
type startOptions struct {
	logLevel, cometLogLevel string
	node                    assemble.Config // REST, UnsafePublicRPC, AcceptTruncatedNodeLog from flags
	executor                executorFlags
}

func newStartCmd(g *globals) *cobra.Command {
	f := &initFlags{}
	var dev bool
	opts := startOptions{node: assemble.DefaultConfig()}
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Run the node until interrupted",
		Long: `Run the node in the foreground: CometBFT consensus, the dstt state machine on
Pebble, the REST gateway (the client interface) and CometBFT's RPC (an
operator port). SIGINT or SIGTERM stops it cleanly. The addresses it serves
are recorded in HOME/config/client.json, where the CLI finds them.

With access control on (genesis names admins) CometBFT's RPC, which serves
every block and tx without authentication, must listen on loopback: a
public rpc.laddr (or grpc_laddr, pprof_laddr) in config.toml is refused
(exit code 3) unless --unsafe-public-rpc.

A node security log that lost entries or is damaged is refused (exit code
4): keep a copy, check it with "dstt audit verify --chain node", and start
with --accept-truncated-node-log to go on; sequence numbers then continue
after the highest ever written and the event is recorded in the log.

Before it serves anything the node checks the consensus audit chain in its
store against the app hash it last committed (every entry's hash and link,
the head, the app hash); a store whose audit data was altered or damaged is
refused (exit code 5).

With --dev, an empty home is first initialised as a single-validator chain
with a key named "dev" in the UNENCRYPTED test keyring, and the CLI's
defaults are set to use it, so "dstt tx put k v" works at once. An existing
home is reused as it is.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dev && !consensus.IsInitialised(g.home) {
				if err := g.initDev(f); err != nil {
					return err
				}
			}
			opts.node.REST.ListenOptional = !cmd.Flags().Changed("rest-laddr")
			opts.node.REST.MetricsListenOptional = !cmd.Flags().Changed("rest-metrics-laddr")
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return g.runNode(ctx, opts)
		},
	}
	f.register(cmd, "dstt-dev")
	cmd.Flags().BoolVar(&dev, "dev", false, "initialise an empty home as a one-node dev chain with a test-keyring key \"dev\"")
	cmd.Flags().StringVar(&opts.logLevel, "log-level", "info", "dstt's log level: debug, info, error or none")
	cmd.Flags().StringVar(&opts.cometLogLevel, "comet-log-level", "error", "CometBFT's log level: debug, info, error or none")
	cmd.Flags().BoolVar(&opts.node.UnsafePublicRPC, "unsafe-public-rpc", false, "UNSAFE: let CometBFT's RPC listen beyond loopback on a chain with access control (anyone who reaches it reads every stored value); warned about and recorded in the node security log")
	cmd.Flags().BoolVar(&opts.node.AcceptTruncatedNodeLog, "accept-truncated-node-log", false, "start although the node security log lost entries or is damaged: damaged bytes are moved aside, seqs continue after the highest ever written, and the event is recorded in the log")
	opts.node.REST.RegisterFlags(cmd.Flags()) // REST gateway: --rest-laddr, --rest-tls-*, limits
	opts.executor.register(cmd.Flags())       // --gtx-executor*
	return cmd
}

// initDev initialises a dev home: one validator, a "dev" key in the test
// keyring, and CLI defaults pointing at both.
func (g *globals) initDev(f *initFlags) error {
	kr, err := keyring.Open(keyring.BackendTest, keyringDir(g.home), nil)
	if err != nil {
		return err
	}
	k, err := kr.Show(devKeyName)
	if errors.Is(err, keyring.ErrKeyNotFound) {
		k, err = kr.Add(devKeyName)
	}
	if err != nil {
		return err
	}
	f.admins = []string{k.Address}
	if _, err := f.initHome(g.home); err != nil {
		return err
	}
	if err := saveClientConfig(g.home, clientConfig{RPC: f.rpcListen, KeyringBackend: keyring.BackendTest, From: devKeyName}); err != nil {
		return err
	}
	fmt.Fprintf(g.stderr, "dev home initialised at %s (chain %q); key %q (test keyring, unencrypted, chain admin) has address %s\n",
		g.home, f.chainID, devKeyName, k.Address)
	return nil
}

func newLogger(w io.Writer, level string) (log.Logger, error) {
	if level == "none" {
		return log.NewNopLogger(), nil
	}
	opt, err := log.AllowLevel(level)
	if err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return log.NewFilter(log.NewTMLogger(log.NewSyncWriter(w)), opt), nil
}

// runNode assembles the node from the home and opts (package
// consensus/assemble, which every in-process test node calls too), records
// the addresses it serves in client.json, and runs it until ctx ends.
func (g *globals) runNode(ctx context.Context, opts startOptions) error {
	cfg := opts.node
	cfg.Home, cfg.Console = g.home, g.stderr
	var err error
	if cfg.Logger, err = newLogger(g.stderr, opts.logLevel); err != nil {
		return err
	}
	if cfg.CometLogger, err = newLogger(g.stderr, opts.cometLogLevel); err != nil {
		return fmt.Errorf("--comet-log-level: %w", err)
	}
	switch h, err := assemble.JoinByStateSync(ctx, cfg); {
	case err != nil && ctx.Err() != nil:
		return nil // stopped (a signal) while it waited for a snapshot
	case err != nil:
		return fmt.Errorf("state sync: %w", err)
	case h > 0:
		fmt.Fprintf(g.stderr, "state sync: restored the chain's state at height %d; starting the node to fetch the blocks after it\n", h)
	}
	n, err := assemble.New(cfg)
	if err != nil {
		return err
	}
	if u := n.GatewayURL(); u != "" {
		fmt.Fprintf(g.stderr, "REST gateway on %s\n", u)
		if m := n.MetricsURL(); m != "" {
			fmt.Fprintf(g.stderr, "metrics on %s\n", m)
		}
	}
	if err := recordAddresses(g.home, n.GatewayURL(), n.RPCAddress()); err != nil {
		fmt.Fprintf(g.stderr, "warning: could not record the node's addresses in %s: %v\n", clientConfigPath(g.home), err)
	}
	fmt.Fprintf(g.stderr, "dstt node starting: home %s, RPC %s, height %d\n", n.Home().Dir(), n.RPCAddress(), n.StartHeight())
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	waitExecutor, err := g.startExecutor(ctx, opts.executor, n.RPCAddress(), opts.logLevel)
	if err != nil {
		return errors.Join(err, n.Stop())
	}
	err = n.Run(ctx)
	cancel()
	waitExecutor()
	return err
}

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			v := map[string]string{"dstt": "dev", "go": "", "cometbft": "", "app_version": fmt.Sprint(abci.AppVersion)}
			if bi, ok := debug.ReadBuildInfo(); ok {
				v["go"] = bi.GoVersion
				if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
					v["dstt"] = bi.Main.Version
				}
				for _, d := range bi.Deps {
					if d.Path == "github.com/cometbft/cometbft" {
						v["cometbft"] = d.Version
					}
				}
			}
			return g.print(v, func(w io.Writer) {
				fmt.Fprintf(w, "dstt %s (app version %s, CometBFT %s, %s)\n", v["dstt"], v["app_version"], v["cometbft"], v["go"])
			})
		},
	}
}
