// Command dstt runs a dstt node and talks to one: keys, transactions,
// queries. It is a thin layer over the packages; see `dstt --help`.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

// globals are the flags every command shares.
type globals struct {
	home    string
	node    string
	output  string
	backend string
	stdout  io.Writer
	stderr  io.Writer
}

func newRootCmd() *cobra.Command {
	g := &globals{stdout: os.Stdout, stderr: os.Stderr}
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
	pf.StringVar(&g.node, "node", "", "RPC address of the node to talk to (default: the home's, or "+defaultNode+")")
	pf.StringVarP(&g.output, "output", "o", "text", "output format: text or json")
	pf.StringVar(&g.backend, "keyring-backend", "", "keyring backend: file (encrypted, default), test (UNENCRYPTED, dev only), memory, or vault (Vault transit: VAULT_ADDR, VAULT_TOKEN)")
	root.AddCommand(newInitCmd(g), newStartCmd(g), newKeysCmd(g), newTxCmd(g), newQueryCmd(g), newRBACCmd(g), newGovCmd(g), newVersionCmd(g), newTestnetCmd(g), newAuditCmd(g), newSignerCmd(g), newBenchCmd(g))
	return root
}

// resolve fills unset flags from the home's client config.
func (g *globals) resolve(cmd *cobra.Command) error {
	if g.output != "text" && g.output != "json" {
		return fmt.Errorf("--output must be text or json, not %q", g.output)
	}
	cc, err := loadClientConfig(g.home)
	if err != nil {
		return err
	}
	if g.node == "" {
		g.node = cc.Node
	}
	if g.node == "" {
		g.node = defaultNode
	}
	if g.backend == "" {
		g.backend = cc.KeyringBackend
	}
	return nil
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
