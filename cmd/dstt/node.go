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

	"github.com/cometbft/cometbft/libs/log"
	"github.com/spf13/cobra"

	"github.com/dstt/dstt/abci"
	"github.com/dstt/dstt/consensus"
	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/transport/rest"
)

// devKeyName is the key `start --dev` creates in the test keyring.
const devKeyName = "dev"

type initFlags struct {
	admins    []string
	chainID   string
	moniker   string
	overwrite bool
	rpcListen string
	p2pListen string
}

func (f *initFlags) register(cmd *cobra.Command, defaultChain string) {
	cmd.Flags().StringVar(&f.chainID, "chain-id", defaultChain, "chain id written into genesis")
	cmd.Flags().StringVar(&f.moniker, "moniker", "node0", "this node's name")
	cmd.Flags().StringVar(&f.rpcListen, "rpc-laddr", "tcp://127.0.0.1:26657", "CometBFT RPC listen address")
	cmd.Flags().StringVar(&f.p2pListen, "p2p-laddr", "tcp://127.0.0.1:26656", "CometBFT P2P listen address")
}

func (f *initFlags) initHome(home string) (*consensus.Home, error) {
	gen := abci.DefaultGenesisState()
	gen.Admins = f.admins
	appState, err := json.Marshal(gen)
	if err != nil {
		return nil, err
	}
	return consensus.InitHome(consensus.InitOptions{
		Home: home, ChainID: f.chainID, Moniker: f.moniker, AppState: appState,
		Overwrite: f.overwrite, RPCListen: f.rpcListen, P2PListen: f.p2pListen,
	})
}

func newInitCmd(g *globals) *cobra.Command {
	f := &initFlags{}
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a node home: config, genesis, node and validator keys",
		Long: `Create a node home (default ~/.dstt): CometBFT config tuned for low latency,
a genesis with this node as the only validator, a node key and a validator
key. Refuses to touch an existing home unless --overwrite.`,
		Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			h, err := f.initHome(g.home)
			if err != nil {
				return err
			}
			if len(f.admins) == 0 {
				fmt.Fprintln(g.stderr, "warning: no --admin given: access control is OFF on this chain (every signer may do everything)")
			}
			if err := saveClientConfig(g.home, clientConfig{Node: f.rpcListen}); err != nil {
				return err
			}
			return g.print(map[string]string{"home": g.home, "chain_id": f.chainID}, func(w io.Writer) {
				fmt.Fprintf(w, "initialised %s for chain %q\nnext: dstt keys add NAME, then dstt start\n", h.Dir(), f.chainID)
			})
		},
	}
	f.register(cmd, "dstt-local")
	cmd.Flags().StringSliceVar(&f.admins, "admin", nil, "address of a genesis admin (admin in every domain); repeatable. Without one, access control is off")
	cmd.Flags().BoolVar(&f.overwrite, "overwrite", false, "re-create an existing home: new config, genesis and keys; DELETES data/ (the chain and app state); keeps keyring/")
	return cmd
}

func newStartCmd(g *globals) *cobra.Command {
	f := &initFlags{}
	var dev bool
	var logLevel, cometLogLevel string
	restCfg := rest.DefaultConfig()
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Run the node until interrupted",
		Long: `Run the node in the foreground: CometBFT consensus, the dstt state machine on
Pebble, the RPC server. SIGINT or SIGTERM stops it cleanly.

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
			restCfg.ListenOptional = !cmd.Flags().Changed("rest-laddr")
			restCfg.MetricsListenOptional = !cmd.Flags().Changed("rest-metrics-laddr")
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return g.runNode(ctx, logLevel, cometLogLevel, &restCfg)
		},
	}
	f.register(cmd, "dstt-dev")
	cmd.Flags().BoolVar(&dev, "dev", false, "initialise an empty home as a one-node dev chain with a test-keyring key \"dev\"")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "dstt's log level: debug, info, error or none")
	cmd.Flags().StringVar(&cometLogLevel, "comet-log-level", "error", "CometBFT's log level: debug, info, error or none")
	restCfg.RegisterFlags(cmd.Flags()) // REST gateway (issue 7): --rest-laddr, --rest-tls-*, limits
	return cmd
}

// initDev initialises a dev home: one validator, a "dev" key in the test
// keyring, and CLI defaults pointing at both.
func (g *globals) initDev(f *initFlags) error {
	kr, err := security.OpenKeyring(security.BackendTest, keyringDir(g.home), nil)
	if err != nil {
		return err
	}
	k, err := kr.Show(devKeyName)
	if errors.Is(err, security.ErrKeyNotFound) {
		k, err = kr.Add(devKeyName)
	}
	if err != nil {
		return err
	}
	f.admins = []string{k.Address}
	if _, err := f.initHome(g.home); err != nil {
		return err
	}
	if err := saveClientConfig(g.home, clientConfig{Node: f.rpcListen, KeyringBackend: security.BackendTest, From: devKeyName}); err != nil {
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

// runNode opens the home, the store and the engine, and runs the node
// until ctx is cancelled.
func (g *globals) runNode(ctx context.Context, logLevel, cometLogLevel string, restCfg *rest.Config) error {
	logger, err := newLogger(g.stderr, logLevel)
	if err != nil {
		return err
	}
	cometLogger, err := newLogger(g.stderr, cometLogLevel)
	if err != nil {
		return fmt.Errorf("--comet-log-level: %w", err)
	}
	h, err := consensus.OpenHome(g.home)
	if err != nil {
		return err
	}
	store, err := storage.NewPebbleStore(h.AppDataDir(), storage.DefaultPebbleOptions())
	if err != nil {
		return fmt.Errorf("open app store: %w", err)
	}
	defer store.Close()
	verifier := abci.NewCachedVerifier(1 << 18) // shared with the REST gateway, which pre-verifies submitted batches
	engine, err := abci.NewEngine(store, verifier)
	if err != nil {
		return err
	}
	app := abci.NewApp(engine, logger.With("module", "dstt"))
	// --- audit (issue 4, docs/AUDIT.md): node security chain, SIEM sinks ---
	aud, err := openAudit(h, logger)
	if err != nil {
		return err
	}
	defer aud.close()
	aud.hook(app)
	// --- end audit ---
	node, err := consensus.NewNode(h, app, cometLogger)
	if err != nil {
		return err
	}
	// --- audit: start the configured sinks (HOME/config/audit.toml) ---
	if err := aud.startSinks(ctx, abci.NewAuditSource(store)); err != nil {
		return err
	}
	// --- end audit ---
	// --- REST gateway (issue 7, transport/rest): in-process, stops when ctx ends ---
	if !restCfg.Disabled() {
		var secLog rest.SecurityLog // gateway auth failures, cache-dropped duplicates
		if aud.nodeLog != nil {
			secLog = aud.nodeLog
		}
		gw, err := rest.Serve(ctx, rest.NewCometBackend(node.CometNode(), node.Client()), *restCfg,
			rest.Options{Verifier: verifier, Logger: logger.With("module", "rest"), SecurityLog: secLog})
		switch {
		case errors.Is(err, rest.ErrListenSkipped):
			fmt.Fprintf(g.stderr, "warning: %v\n", err)
		case err != nil:
			return errors.Join(fmt.Errorf("REST gateway: %w", err), node.Stop())
		default:
			fmt.Fprintf(g.stderr, "REST gateway on %s\n", gw.URL())
			if u := gw.MetricsURL(); u != "" {
				fmt.Fprintf(g.stderr, "metrics on %s\n", u)
			}
		}
	}
	// --- end REST gateway ---
	fmt.Fprintf(g.stderr, "dstt node starting: home %s, RPC %s, height %d\n", h.Dir(), node.RPCAddress(), engine.Height())
	return node.Run(ctx)
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
