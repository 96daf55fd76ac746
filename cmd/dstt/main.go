package main

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dstt/dstt/abci/engine"
	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/consensus"
	"github.com/dstt/dstt/transport/client"
	"github.com/dstt/dstt/transport/client/cometrpc"
)

// Exit codes. Every failure exits 1, except these, which scripts can tell
// apart:
const (
	exitFailure = 1
	// exitPublicRPC: access control is on and CometBFT's RPC would listen
	// beyond loopback (fix rpc.laddr, or --unsafe-public-rpc).
	exitPublicRPC = 3
	// exitNodeLogTruncated: the node security log lost entries or is
	// damaged (check it, or --accept-truncated-node-log).
	exitNodeLogTruncated = 4
	// exitAuditMismatch: the stored consensus audit chain does not match
	// the last committed app hash (tampered or damaged store).
	exitAuditMismatch = 5
	// exitUnanchored: audit verify --file found a consistent chain but
	// could not tie an end of it to anything trusted. (Not 2: that is the
	// exit status of a Go program that panics.)
	exitUnanchored = 6
	// exitSnapshotRefused: a snapshot does not match the validators'
	// signed commit (tampered, damaged, or of another chain).
	exitSnapshotRefused = 7
)

func exitCode(err error) int {
	switch {
	case errors.Is(err, consensus.ErrPublicRPC):
		return exitPublicRPC
	case errors.Is(err, audit.ErrNodeLogTruncated):
		return exitNodeLogTruncated
	case errors.Is(err, audit.ErrUnanchored):
		return exitUnanchored
	case errors.Is(err, audit.ErrStoreMismatch):
		return exitAuditMismatch
	case errors.Is(err, engine.ErrSnapshot):
		return exitSnapshotRefused
	}
	return exitFailure
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the CLI on args and returns the exit status; a failure is
// printed by renderError, the one place errors are rendered.
func run(args []string, stdout, stderr io.Writer) int {
	root, g := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil {
		return 0
	}
	renderError(stderr, g.output == "json" || asksJSON(args), cmd, err)
	return exitCode(err)
}

// asksJSON reports whether args ask for -o json: a flag error stops
// parsing before a later --output is read.
func asksJSON(args []string) bool {
	for i, a := range args {
		switch {
		case a == "--":
			return false
		case a == "-ojson", a == "--output=json", a == "-o=json":
			return true
		case (a == "-o" || a == "--output") && i+1 < len(args) && args[i+1] == "json":
			return true
		}
	}
	return false
}

// Transports the CLI can use (--transport).
const (
	transportREST = "rest"
	transportRPC  = "rpc"
)

// globals are the flags every command shares.
type globals struct {
	home      string
	node      string // resolved: the address the CLI talks to
	transport string // resolved: transportREST or transportRPC
	rpc       string // resolved: CometBFT's RPC, for commands only it serves
	output    string
	backend   string
	tls       client.TLSFiles // resolved: flags, then $DSTT_TLS_*, then client.json
	stdout    io.Writer
	stderr    io.Writer
}

func newRootCmd(stdout, stderr io.Writer) (*cobra.Command, *globals) {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "dstt",
		Short: "dstt: a Byzantine-fault-tolerant transaction ledger for consortia",
		Long: `dstt runs a node of a permissioned, Byzantine-fault-tolerant ledger (CometBFT
consensus, signed all-or-nothing transactions, versioned history) and is its
command-line client.

Quick start:
  dstt start --dev                 # a single-validator node in ~/.dstt
  dstt tx put greeting hello       # in another terminal
  dstt query get greeting`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return g.resolve(cmd)
		},
	}
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	pf := root.PersistentFlags()
	pf.StringVar(&g.home, "home", defaultHome(), "node home directory ($DSTT_HOME)")
	pf.StringVar(&g.node, "node", "", "node to talk to: http(s)://HOST:PORT is its REST gateway (the default transport), tcp://HOST:PORT its CometBFT RPC (operator port) (default: the gateway in the home's client.json, or "+client.DefaultAddress+")")
	pf.StringVar(&g.transport, "transport", "", "how to reach the node: rest (the authenticated REST gateway; default) or rpc (CometBFT's RPC: an operator port, loopback-only on chains with access control) (default: from --node's scheme, else rest)")
	pf.StringVarP(&g.output, "output", "o", "text", "output format: text or json")
	pf.StringVar(&g.tls.CA, "ca", "", "CA certificate (PEM) of an https:// gateway, if not a system root ($DSTT_TLS_CA, client.json tls_ca)")
	pf.StringVar(&g.tls.Cert, "cert", "", "client certificate (PEM) for a gateway that asks for one; with --key ($DSTT_TLS_CERT, client.json tls_cert)")
	pf.StringVar(&g.tls.Key, "key", "", "private key (PEM) of --cert ($DSTT_TLS_KEY, client.json tls_key); dstt signer's own --key names its transit key")
	pf.StringVar(&g.backend, "keyring-backend", "", "keyring backend: file (encrypted, default), test (UNENCRYPTED, dev only), memory, or vault (Vault transit: VAULT_ADDR, VAULT_TOKEN)")
	root.AddCommand(newInitCmd(g), newStartCmd(g), newKeysCmd(g), newTxCmd(g), newQueryCmd(g), newRBACCmd(g), newGovCmd(g), newVersionCmd(g), newTestnetCmd(g), newAuditCmd(g), newSignerCmd(g), newBenchCmd(g), newNodeCmd(g), newSnapshotCmd(g), newGtxCmd(g))
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	failUnknownSubcommands(root)
	return root, g
}

// resolve fills unset flags from the home's client config.
func (g *globals) resolve(cmd *cobra.Command) error {
	if g.output != "text" && g.output != "json" {
		return usageErr("--output must be text or json, not %q", g.output)
	}
	cc, err := loadClientConfig(g.home)
	if err != nil {
		return err
	}
	if err := g.resolveNode(cc); err != nil {
		return err
	}
	if g.backend == "" {
		g.backend = cc.KeyringBackend
	}
	g.resolveTLS(cmd, cc)
	return nil
}

// resolveTLS fills the TLS files a flag did not set from $DSTT_TLS_CA,
// $DSTT_TLS_CERT, $DSTT_TLS_KEY, then client.json. A command with its own
// --key (dstt signer) does not take the gateway's key from a flag.
func (g *globals) resolveTLS(cmd *cobra.Command, cc clientConfig) {
	pick := func(flag, cur, env, conf string) string {
		if f := cmd.Flags().Lookup(flag); f != nil && f.Changed && cur != "" {
			return cur
		}
		if v := os.Getenv(env); v != "" {
			return v
		}
		return conf
	}
	g.tls.CA = pick("ca", g.tls.CA, "DSTT_TLS_CA", cc.TLSCA)
	g.tls.Cert = pick("cert", g.tls.Cert, "DSTT_TLS_CERT", cc.TLSCert)
	g.tls.Key = pick("key", g.tls.Key, "DSTT_TLS_KEY", cc.TLSKey)
}

// resolveNode settles the transport, the address the CLI talks to, and the
// RPC address for the commands only CometBFT's RPC serves. The REST gateway
// is the default; RPC only when asked for: --transport rpc, a tcp:// --node,
// or a tcp:// "node" set in client.json (dstt init and start no longer
// write one; the testnet generator and older versions did).
// Precedence: --node, client.json node, the gateway start recorded
// (client.json rest), client.DefaultAddress.
func (g *globals) resolveNode(cc clientConfig) error {
	switch g.transport {
	case "", transportREST, transportRPC:
	default:
		return usageErr("--transport must be %s or %s, not %q", transportREST, transportRPC, g.transport)
	}
	g.rpc = cc.RPC
	if g.rpc == "" && strings.HasPrefix(cc.Node, "tcp://") {
		g.rpc = cc.Node
	}
	if g.rpc == "" {
		g.rpc = defaultRPC
		if h, err := consensus.OpenHome(g.home); err == nil {
			if c, err := h.Config(); err == nil {
				g.rpc = c.RPC.ListenAddress
			}
		}
	}
	node := g.node
	switch {
	case node == "" && g.transport == transportRPC:
		node = g.rpc
	case node == "" && cc.Node != "" && !(g.transport == transportREST && strings.HasPrefix(cc.Node, "tcp://")):
		node = cc.Node
	case node == "":
		node = cc.REST
		if node == "" {
			node = client.DefaultAddress
		}
	case !strings.Contains(node, "://") && g.transport == transportRPC:
		node = "tcp://" + node
	case !strings.Contains(node, "://"):
		node = "http://" + node
	}
	switch {
	case strings.HasPrefix(node, "tcp://"):
		if g.transport == transportREST {
			return usageErr("--transport rest with --node %s: a tcp:// address is CometBFT's RPC; give the gateway's http(s):// address", node)
		}
		g.transport, g.rpc = transportRPC, node
	case strings.HasPrefix(node, "http://"), strings.HasPrefix(node, "https://"):
		if g.transport == transportRPC {
			return usageErr("--transport rpc with --node %s: an http(s):// address is the REST gateway; give the RPC's tcp:// address", node)
		}
		g.transport = transportREST
	default:
		return usageErr("--node %q: want http(s)://HOST:PORT (REST gateway) or tcp://HOST:PORT (CometBFT RPC)", node)
	}
	g.node = node
	return nil
}

// newClient connects to the node over the resolved transport.
// With TLS files it speaks TLS to an https:// gateway.
func (g *globals) newClient(opts ...client.Option) (*client.Client, error) {
	if g.transport == transportRPC {
		return cometrpc.New(g.node, opts...)
	}
	if !g.tls.Empty() {
		if !strings.HasPrefix(g.node, "https://") {
			return nil, usageErr("--ca, --cert and --key are for an https:// gateway, and the node is %s", g.node)
		}
		tc, err := g.tls.Config()
		if err != nil {
			return nil, err
		}
		opts = append(opts, client.WithTLSConfig(tc))
	}
	return client.NewREST(g.node, opts...)
}

// rpcClient connects to CometBFT's RPC, for what only it serves (raw ABCI
// queries: rbac list/check, key identities; the consensus audit chain).
// That is the node's operator port: these commands run on the node's host,
// or with --node tcp://HOST:PORT where the operator exposes it.
func (g *globals) rpcClient(opts ...client.Option) (*client.Client, error) {
	return cometrpc.New(g.rpc, opts...)
}

func (g *globals) json() bool { return g.output == "json" }

// print writes v as JSON when -o json, else the text from human().
func (g *globals) print(v any, human func(w io.Writer)) error {
	if g.json() {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	human(g.stdout)
	return nil
}
