package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	rpcclient "github.com/cometbft/cometbft/rpc/client"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	"github.com/spf13/cobra"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/audit/format"
	"github.com/dstt/dstt/audit/sink"
	"github.com/dstt/dstt/consensus"
	"github.com/dstt/dstt/security"
)

func newAuditCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Verify, export and follow the audit log",
		Long: `dstt keeps two hash-chained audit logs (see docs/AUDIT.md):

  consensus  one entry per tx outcome, derived from block contents; its head
             is folded into the app hash, which the validators sign. Read from
             a node over RPC (queries signed with --reader KEY, which needs
             read on "audit/log" unless the chain is open).
  node       node-local events (mempool rejections, auth failures, start,
             stop, config loaded), signed with the node's audit key, in
             HOME/data/audit/node.log.`,
	}
	cmd.AddCommand(newAuditVerifyCmd(g), newAuditExportCmd(g), newAuditTailCmd(g), newAuditAnchorCmd(g), newAuditPruneCmd(g))
	return cmd
}

// auditFlags are the flags every audit subcommand shares.
type auditFlags struct {
	chain   string
	from    string
	nodeLog string
}

func (f *auditFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.chain, "chain", "consensus", "which log: consensus (from the node over RPC) or node (the node log file)")
	cmd.Flags().StringVar(&f.from, "reader", "", "key that signs the RPC queries (default: the home's --from key; - for unsigned)")
	cmd.Flags().StringVar(&f.nodeLog, "node-log", "", "node log file (default: node_log.path of HOME/config/audit.toml, data/audit/node.log)")
}

func (g *globals) auditConfig() (sink.Config, error) {
	c, err := sink.LoadConfig(filepath.Join(g.home, sink.ConfigFile))
	if err != nil {
		return c, err
	}
	return c.Resolve(g.home), nil
}

// auditRPC connects to the node for the consensus chain: the RPC client,
// a Source signing its queries with --from, and the chain id.
func (g *globals) auditRPC(from string) (rpcclient.Client, *audit.RPCSource, string, error) {
	c, err := rpchttp.New(g.rpc, "/websocket")
	if err != nil {
		return nil, nil, "", fmt.Errorf("node %s: %w", g.rpc, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	st, err := c.Status(ctx)
	if err != nil {
		return nil, nil, "", fmt.Errorf("CometBFT RPC unreachable at %s (the consensus audit chain is read over the node's RPC, an operator port: run this on the node's host, or set --node tcp://HOST:PORT): %w", g.rpc, err)
	}
	chainID := st.NodeInfo.Network
	src := audit.NewRPCSource(c)
	s, err := g.signerFor(from, "to sign the audit queries; --reader - for unsigned")
	if err != nil {
		return nil, nil, "", err
	}
	if s != nil {
		src.SignWith(chainID, s)
	}
	return c, src, chainID, nil
}

func (g *globals) nodeLogPath(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	c, err := g.auditConfig()
	if err != nil {
		return "", err
	}
	return c.NodeLog.Path, nil
}

// source returns the Source for --chain, and the chain id when known.
func (g *globals) auditSource(f *auditFlags) (audit.Source, string, error) {
	switch f.chain {
	case "consensus":
		_, src, chainID, err := g.auditRPC(f.from)
		return src, chainID, err
	case "node":
		path, err := g.nodeLogPath(f.nodeLog)
		if err != nil {
			return nil, "", err
		}
		src, err := audit.NewNodeLogFileSource(path)
		if err != nil {
			return nil, "", err
		}
		chainID := ""
		if h, err := consensus.OpenHome(g.home); err == nil {
			chainID, _ = h.ChainID()
		}
		return src, chainID, nil
	}
	return nil, "", fmt.Errorf("--chain must be consensus or node, not %q", f.chain)
}

func newAuditVerifyCmd(g *globals) *cobra.Command {
	o := &auditVerifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Verify an audit log; report the first bad entry",
		Long: `Verify an audit log: every entry's hash, sequence, link to the one before,
and (--expect-head) that nothing was cut off the end. Exit status 1 and the
first bad sequence number when anything is wrong.

--chain consensus (default): fetches the state hash and audit head at
--height (default: the latest height whose next block exists), recomputes
the app hash, and checks it against the header of the next block, whose
commit signatures (>2/3 of the voting power) are verified against the
validator set; that set must match the genesis validators (or keep 1/3 of
their power signing) unless --trust-node. Then it pages through every entry
up to that head.

--chain node: the node log file, its signatures checked with the node's
audit public key (--pubkey, default from HOME/config/audit_key.json).

--file F: a native JSON export (dstt audit export --format json), read
strictly (a field the format does not define is refused, naming the line).
A file alone proves only that its lines form a hash chain, which anyone can
make. It is "anchored" when its start is tied down (it starts at seq 1, or
--after SEQ:HASH names the entry before it) and its end is a trusted head:
--expect-head SEQ:HASH (e.g. a head proven earlier), or --prove, which runs
the --chain consensus proof against the validators and requires the file's
last entry to be on the chain they signed.

Exit status: 0 verified (for --file: and anchored at both ends); 1 a check
failed (the first bad seq is named) or the input could not be read;
6 (--file only) the file is a consistent chain but an end is not anchored:
the report says which ("VERIFIED FOR INTERNAL CONSISTENCY ONLY",
"scope": "internal_consistency_only" with -o json).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return g.auditVerify(cmd.Context(), o) },
	}
	o.register(cmd)
	cmd.Flags().Int64Var(&o.height, "height", 0, "consensus: prove the audit head after this height (default: latest - 1)")
	cmd.Flags().StringVar(&o.genesis, "genesis", "", "consensus: genesis file whose validators are trusted (default: HOME/config/genesis.json)")
	cmd.Flags().BoolVar(&o.trustNode, "trust-node", false, "consensus: trust the validator set the node reports (still checks it signed)")
	cmd.Flags().StringVar(&o.pubHex, "pubkey", "", "node: the node's audit public key, hex (default: from HOME/config/audit_key.json)")
	cmd.Flags().StringVar(&o.expect, "expect-head", "", "SEQ:HASH the log must reach (e.g. the last entry your SIEM received): detects truncation")
	cmd.Flags().StringVar(&o.file, "file", "", "verify a native JSON export instead (one entry per line)")
	cmd.Flags().StringVar(&o.after, "after", "", "--file: SEQ:HASH of the entry before the file's first (default: trust the first entry's prev_hash, and say the start is not anchored)")
	cmd.Flags().BoolVar(&o.prove, "prove", false, "--file: also prove the file's last entry against the validators' signed commits (reads the node over RPC, as --chain consensus does)")
	return cmd
}

// auditVerifyOptions are audit verify's flags.
type auditVerifyOptions struct {
	auditFlags
	height                               int64
	pubHex, expect, after, file, genesis string
	trustNode, prove                     bool
}

// auditVerify runs audit verify: it prints the report and returns an error
// for exit status 1 (a check failed) or 6 (an export verified for internal
// consistency only, audit.ErrUnanchored).
func (g *globals) auditVerify(ctx context.Context, o *auditVerifyOptions) error {
	var anchor audit.ChainHead
	if o.expect != "" {
		var err error
		if anchor, err = audit.ParseChainHead(o.expect); err != nil {
			return fmt.Errorf("--expect-head: %w", err)
		}
	}
	var rep audit.Report
	var err error
	switch {
	case o.file != "":
		rep, err = verifyExportFile(o.file, o.after, anchor)
		if err == nil && o.prove {
			proof, perr := g.verifyConsensus(ctx, &o.auditFlags, audit.ConsensusProof{Expect: exportHead(rep)}, o.genesis, o.trustNode)
			err = audit.ProveExport(&rep, proof, perr)
		}
	case o.chain == "node":
		rep, err = g.verifyNodeLog(&o.auditFlags, o.pubHex, anchor)
	case o.chain == "consensus":
		rep, err = g.verifyConsensus(ctx, &o.auditFlags, audit.ConsensusProof{Height: o.height, Expect: anchor}, o.genesis, o.trustNode)
	default:
		return fmt.Errorf("--chain must be consensus or node, not %q", o.chain)
	}
	if err != nil && rep.Chain == "" {
		return err
	}
	rep.Conclude(err)
	g.print(rep, rep.WriteText)
	switch {
	case !rep.OK && rep.FirstBadSeq > 0:
		return fmt.Errorf("audit log does not verify: first bad entry is seq %d", rep.FirstBadSeq)
	case !rep.OK:
		return errors.New("audit log does not verify")
	case rep.Scope == audit.ScopeInternal:
		return fmt.Errorf("%w (%s)", audit.ErrUnanchored, strings.Join(rep.Open, "; "))
	}
	return nil
}

// verifyConsensus proves the consensus chain the node serves, against the
// validators of --genesis unless --trust-node.
func (g *globals) verifyConsensus(ctx context.Context, f *auditFlags, p audit.ConsensusProof, genesis string, trustNode bool) (audit.Report, error) {
	c, src, chainID, err := g.auditRPC(f.from)
	if err != nil {
		return audit.Report{}, err
	}
	if !trustNode {
		if genesis == "" {
			genesis = filepath.Join(g.home, "config", "genesis.json")
		}
		if p.Trusted, err = audit.TrustedValidators(genesis); err != nil {
			return audit.Report{}, fmt.Errorf("trusted validators (pass --genesis FILE, or --trust-node): %w", err)
		}
	}
	return audit.VerifyConsensus(ctx, c, src, chainID, p)
}

// verifyNodeLog verifies the node log file with --pubkey, else the key in
// audit.toml's key file.
func (g *globals) verifyNodeLog(f *auditFlags, pubHex string, anchor audit.ChainHead) (audit.Report, error) {
	path, err := g.nodeLogPath(f.nodeLog)
	if err != nil {
		return audit.Report{}, err
	}
	var pub []byte
	if pubHex != "" {
		if pub, err = hex.DecodeString(pubHex); err != nil || len(pub) != security.PubKeySize {
			return audit.Report{}, fmt.Errorf("--pubkey must be %d bytes of hex", security.PubKeySize)
		}
	} else {
		c, err := g.auditConfig()
		if err != nil {
			return audit.Report{}, err
		}
		if pub, err = audit.LoadPubKey(c.NodeLog.KeyFile); err != nil {
			return audit.Report{}, fmt.Errorf("the node's audit public key (pass --pubkey HEX): %w", err)
		}
	}
	return audit.VerifyNodeLog(path, pub, anchor)
}

// verifyExportFile verifies --file, after the --after head when given.
func verifyExportFile(path, after string, anchor audit.ChainHead) (audit.Report, error) {
	var prev audit.ChainHead
	if after != "" {
		var err error
		if prev, err = audit.ParseChainHead(after); err != nil {
			return audit.Report{}, fmt.Errorf("--after: %w", err)
		}
	}
	return audit.VerifyExportFile(path, prev, anchor)
}

// exportHead is the head an export's report names (zero when it holds none).
func exportHead(rep audit.Report) audit.ChainHead {
	h, _ := audit.ParseChainHead(rep.Head)
	return h
}

func newAuditExportCmd(g *globals) *cobra.Command {
	f := &auditFlags{}
	var fmtName, out, hostname string
	var fromSeq, toSeq uint64
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write audit entries in a SIEM format",
		Long: `Write audit entries, one per line, in a SIEM format: ` + strings.Join(format.Names(), ", ") + `.
"json" is dstt's native form: it keeps every field, so 'dstt audit verify --file'
can check it. The global -o flag sets text/json output elsewhere; here the
destination file is --out (default: standard output).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			src, chainID, err := g.auditSource(f)
			if err != nil {
				return err
			}
			fm, err := format.New(fmtName, format.Options{Chain: f.chain, ChainID: chainID, Hostname: hostname})
			if err != nil {
				return err
			}
			w := g.stdout
			if out != "" && out != "-" {
				fh, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
				if err != nil {
					return err
				}
				defer fh.Close()
				w = fh
			}
			n, err := format.Export(cmd.Context(), src, fromSeq, toSeq, fm, w)
			if err != nil {
				return err
			}
			if out != "" && out != "-" {
				fmt.Fprintf(g.stderr, "exported %d %s entries to %s\n", n, f.chain, out)
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&fmtName, "format", format.JSON, "output format: "+strings.Join(format.Names(), ", "))
	cmd.Flags().Uint64Var(&fromSeq, "from", 0, "first sequence number (0: the lowest readable, 1 unless the chain was pruned below an audit anchor)")
	cmd.Flags().Uint64Var(&toSeq, "to", 0, "last sequence number (0 = the head)")
	cmd.Flags().StringVar(&out, "out", "", "write to this file instead of standard output")
	cmd.Flags().StringVar(&hostname, "hostname", "", "host name to put in the records (default: none)")
	return cmd
}

func newAuditTailCmd(g *globals) *cobra.Command {
	f := &auditFlags{}
	var fmtName string
	var n uint64
	var follow bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Print the newest audit entries and follow new ones",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			src, chainID, err := g.auditSource(f)
			if err != nil {
				return err
			}
			fm, err := format.New(fmtName, format.Options{Chain: f.chain, ChainID: chainID})
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return format.Tail(ctx, src, fm, g.stdout, format.TailOptions{Lines: n, Follow: follow, Interval: interval})
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&fmtName, "format", format.Text, "output format: "+strings.Join(format.Names(), ", "))
	cmd.Flags().Uint64VarP(&n, "lines", "n", 10, "how many of the newest entries to print first")
	cmd.Flags().BoolVarP(&follow, "follow", "f", true, "keep printing new entries until interrupted (--follow=false to stop)")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "how often to look for new entries")
	return cmd
}
