package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	cmtlog "github.com/cometbft/cometbft/libs/log"
	rpcclient "github.com/cometbft/cometbft/rpc/client"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/dstt/dstt/abci"
	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/audit/format"
	"github.com/dstt/dstt/audit/sink"
	"github.com/dstt/dstt/consensus"
	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/types"
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
	cmd.AddCommand(newAuditVerifyCmd(g), newAuditExportCmd(g), newAuditTailCmd(g))
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

// fileSource serves the node log file read-only, re-reading it when asked
// for the head (the node may be appending).
type fileSource struct {
	path string
	mem  *audit.InMemorySource
}

func newFileSource(path string) (*fileSource, error) {
	s := &fileSource{path: path, mem: audit.NewInMemorySource()}
	return s, s.reload()
}

func (s *fileSource) reload() error {
	es, err := audit.ReadNodeLogFile(s.path)
	if err != nil {
		return err
	}
	s.mem.Replace(es)
	return nil
}

func (s *fileSource) Entries(ctx context.Context, from uint64, limit int) ([]audit.Entry, error) {
	return s.mem.Entries(ctx, from, limit)
}

func (s *fileSource) Head(ctx context.Context) (audit.ChainHead, error) {
	if err := s.reload(); err != nil {
		return audit.ChainHead{}, err
	}
	return s.mem.Head(ctx)
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
		src, err := newFileSource(path)
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

// verifyReport is what `dstt audit verify` prints.
type verifyReport struct {
	Chain       string      `json:"chain"`
	OK          bool        `json:"ok"`
	Entries     uint64      `json:"entries"`
	Head        string      `json:"head"`
	FirstBadSeq uint64      `json:"first_bad_seq,omitempty"`
	Error       string      `json:"error,omitempty"`
	Signatures  int         `json:"signatures,omitempty"`
	Anchor      *anchorJSON `json:"anchor,omitempty"`
	Unanchored  uint64      `json:"unanchored_entries,omitempty"`
	// Gaps: node log stretches lost and accepted (--accept-truncated-node-log).
	Gaps []string `json:"gaps,omitempty"`
}

type anchorJSON struct {
	Height         uint64 `json:"height"`
	Head           string `json:"audit_head"`
	SignedHeight   int64  `json:"signed_height"`
	AppHash        string `json:"app_hash"`
	BlockHash      string `json:"block_hash"`
	ValidatorsHash string `json:"validators_hash"`
	Validators     int    `json:"validators"`
	TotalPower     int64  `json:"total_power"`
	TrustedBy      string `json:"trusted_by"`
}

func newAuditVerifyCmd(g *globals) *cobra.Command {
	f := &auditFlags{}
	var height int64
	var pubHex, expect, after, file, genesis string
	var trustNode bool
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

--file F: a native JSON export (dstt audit export --format json).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var anchor audit.ChainHead
			if expect != "" {
				var err error
				if anchor, err = audit.ParseChainHead(expect); err != nil {
					return fmt.Errorf("--expect-head: %w", err)
				}
			}
			var rep verifyReport
			var err error
			switch {
			case file != "":
				rep, err = verifyExportFile(file, after, anchor)
			case f.chain == "node":
				rep, err = g.verifyNodeLog(f, pubHex, anchor)
			case f.chain == "consensus":
				rep, err = g.verifyConsensus(cmd.Context(), f, height, genesis, trustNode, anchor)
			default:
				return fmt.Errorf("--chain must be consensus or node, not %q", f.chain)
			}
			if err != nil && rep.Chain == "" {
				return err
			}
			if err != nil {
				rep.OK, rep.Error = false, err.Error()
				rep.FirstBadSeq, _ = audit.FirstBadSeq(err)
			} else {
				rep.OK = true
			}
			g.print(rep, func(w io.Writer) { printVerify(w, rep) })
			if !rep.OK {
				if rep.FirstBadSeq > 0 {
					return fmt.Errorf("audit log does not verify: first bad entry is seq %d", rep.FirstBadSeq)
				}
				return errors.New("audit log does not verify")
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().Int64Var(&height, "height", 0, "consensus: prove the audit head after this height (default: latest - 1)")
	cmd.Flags().StringVar(&genesis, "genesis", "", "consensus: genesis file whose validators are trusted (default: HOME/config/genesis.json)")
	cmd.Flags().BoolVar(&trustNode, "trust-node", false, "consensus: trust the validator set the node reports (still checks it signed)")
	cmd.Flags().StringVar(&pubHex, "pubkey", "", "node: the node's audit public key, hex (default: from HOME/config/audit_key.json)")
	cmd.Flags().StringVar(&expect, "expect-head", "", "SEQ:HASH the log must reach (e.g. the last entry your SIEM received): detects truncation")
	cmd.Flags().StringVar(&file, "file", "", "verify a native JSON export instead (one entry per line)")
	cmd.Flags().StringVar(&after, "after", "", "--file: SEQ:HASH of the entry before the file's first (default: trust the first entry's prev_hash)")
	return cmd
}

func printVerify(w io.Writer, r verifyReport) {
	status := "OK"
	if !r.OK {
		status = "FAILED"
	}
	fmt.Fprintf(w, "%s chain: %s\n  entries verified: %d, head %s\n", r.Chain, status, r.Entries, r.Head)
	for _, gap := range r.Gaps {
		fmt.Fprintf(w, "  GAP (accepted truncation, signed by the audit key): %s\n", gap)
	}
	if r.Signatures > 0 {
		fmt.Fprintf(w, "  signatures verified: %d\n", r.Signatures)
	}
	if a := r.Anchor; a != nil {
		fmt.Fprintf(w, "  audit head %s after height %d is in app hash %s,\n  signed in block %d by validators %s (%d validators, power %d; %s)\n",
			a.Head, a.Height, a.AppHash, a.SignedHeight, a.ValidatorsHash, a.Validators, a.TotalPower, a.TrustedBy)
		if r.Unanchored > 0 {
			fmt.Fprintf(w, "  %d newer entries verified as a chain, not yet under a signed app hash\n", r.Unanchored)
		}
	}
	if !r.OK {
		if r.FirstBadSeq > 0 {
			fmt.Fprintf(w, "  FIRST BAD ENTRY: seq %d\n", r.FirstBadSeq)
		}
		fmt.Fprintf(w, "  %s\n", r.Error)
	}
}

func trustedValidators(path string) (*cmttypes.ValidatorSet, error) {
	doc, err := cmttypes.GenesisDocFromFile(path)
	if err != nil {
		return nil, err
	}
	vals := make([]*cmttypes.Validator, len(doc.Validators))
	for i, v := range doc.Validators {
		vals[i] = cmttypes.NewValidator(v.PubKey, v.Power)
	}
	vs := cmttypes.NewValidatorSet(vals)
	if err := vs.ValidateBasic(); err != nil {
		return nil, fmt.Errorf("%s: validators: %w", path, err)
	}
	return vs, nil
}

func (g *globals) verifyConsensus(ctx context.Context, f *auditFlags, height int64, genesis string, trustNode bool, expect audit.ChainHead) (verifyReport, error) {
	c, src, chainID, err := g.auditRPC(f.from)
	if err != nil {
		return verifyReport{}, err
	}
	rep := verifyReport{Chain: "consensus"}
	st, err := c.Status(ctx)
	if err != nil {
		return verifyReport{}, err
	}
	latest := st.SyncInfo.LatestBlockHeight
	if height == 0 {
		height = latest - 1
	}
	if height < 1 || height >= latest {
		return verifyReport{}, fmt.Errorf("cannot prove height %d: the node is at %d and the proof needs block %d (the next block carries the app hash)", height, latest, height+1)
	}
	opts := audit.CommitOptions{}
	if !trustNode {
		if genesis == "" {
			genesis = filepath.Join(g.home, "config", "genesis.json")
		}
		if opts.Trusted, err = trustedValidators(genesis); err != nil {
			return verifyReport{}, fmt.Errorf("trusted validators (pass --genesis FILE, or --trust-node): %w", err)
		}
	}
	hr, err := src.HeadAt(ctx, height)
	if err != nil {
		return verifyReport{}, err
	}
	a, err := audit.VerifyAgainstCommit(ctx, audit.NewRPCCommitFetcher(c), chainID, hr, opts)
	rep.Anchor = &anchorJSON{
		Height: a.Height, Head: a.Head.String(), SignedHeight: a.SignedHeight, AppHash: fmt.Sprintf("%X", a.AppHash),
		BlockHash: fmt.Sprintf("%X", a.BlockHash), ValidatorsHash: fmt.Sprintf("%X", a.ValidatorsHash),
		Validators: a.Validators, TotalPower: a.TotalPower, TrustedBy: a.TrustedBy,
	}
	if err != nil {
		return rep, err
	}
	v := audit.NewVerifier(audit.ChainHead{})
	v.Anchor(hr.Head)
	if expect.Seq > 0 {
		// The caller's head must be on the proven chain too.
		if expect.Seq > hr.Head.Seq {
			v.Anchor(expect)
		}
	}
	var expectErr error
	err = audit.Scan(ctx, src, 1, 0, 0, func(page []audit.Entry) error {
		for i := range page {
			if err := v.Add(&page[i]); err != nil {
				return err
			}
			if expect.Seq == page[i].Seq && string(expect.Hash) != string(page[i].Hash) && expectErr == nil {
				expectErr = &audit.VerifyError{Seq: expect.Seq, Err: audit.ErrHead, Detail: fmt.Sprintf("seq %d hashes to %X, --expect-head says %X", expect.Seq, page[i].Hash, expect.Hash)}
			}
		}
		return nil
	})
	head := v.Head()
	rep.Entries, rep.Head = head.Seq, head.String()
	if head.Seq > hr.Head.Seq {
		rep.Unanchored = head.Seq - hr.Head.Seq
	}
	if err == nil {
		err = v.Finish()
	}
	if err == nil && expect.Seq > 0 && expect.Seq > head.Seq {
		err = &audit.VerifyError{Seq: head.Seq + 1, Err: audit.ErrTruncated, Detail: fmt.Sprintf("chain ends at seq %d, --expect-head is seq %d", head.Seq, expect.Seq)}
	}
	if err == nil {
		err = expectErr
	}
	return rep, err
}

func (g *globals) verifyNodeLog(f *auditFlags, pubHex string, anchor audit.ChainHead) (verifyReport, error) {
	path, err := g.nodeLogPath(f.nodeLog)
	if err != nil {
		return verifyReport{}, err
	}
	var pub []byte
	if pubHex != "" {
		if pub, err = hex.DecodeString(pubHex); err != nil || len(pub) != security.PubKeySize {
			return verifyReport{}, fmt.Errorf("--pubkey must be %d bytes of hex", security.PubKeySize)
		}
	} else {
		c, err := g.auditConfig()
		if err != nil {
			return verifyReport{}, err
		}
		if pub, err = audit.LoadPubKey(c.NodeLog.KeyFile); err != nil {
			return verifyReport{}, fmt.Errorf("the node's audit public key (pass --pubkey HEX): %w", err)
		}
	}
	rep := verifyReport{Chain: "node"}
	r, err := audit.VerifyNodeLogFile(path, pub, anchor)
	rep.Entries, rep.Head, rep.Signatures = r.Entries, r.Head.String(), r.Signatures
	for _, gap := range r.Gaps {
		rep.Gaps = append(rep.Gaps, fmt.Sprintf("seqs %d..%d lost (log kept %s, resumed after %s)", gap.From.Seq+1, gap.To.Seq, gap.From, gap.To))
	}
	if err != nil {
		if _, isVerify := audit.FirstBadSeq(err); !isVerify && r.Entries == 0 && r.Signatures == 0 {
			return verifyReport{}, err // cannot even read it
		}
	}
	return rep, err
}

func verifyExportFile(path, after string, anchor audit.ChainHead) (verifyReport, error) {
	fh, err := os.Open(path)
	if err != nil {
		return verifyReport{}, err
	}
	defer fh.Close()
	rep := verifyReport{Chain: "export " + path}
	var entries []audit.Entry
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var e audit.Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return rep, &audit.VerifyError{Seq: uint64(len(entries)) + 1, Err: audit.ErrCorrupt, Detail: fmt.Sprintf("line %d: %v", line, err)}
		}
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		return verifyReport{}, err
	}
	var prev audit.ChainHead
	switch {
	case after != "":
		if prev, err = audit.ParseChainHead(after); err != nil {
			return verifyReport{}, fmt.Errorf("--after: %w", err)
		}
	case len(entries) > 0 && entries[0].Seq > 1:
		prev = audit.ChainHead{Seq: entries[0].Seq - 1, Hash: entries[0].PrevHash}
	}
	err = audit.VerifyAnchored(entries, prev, anchor)
	rep.Entries = uint64(len(entries))
	if len(entries) > 0 {
		last := entries[len(entries)-1]
		rep.Head = audit.ChainHead{Seq: last.Seq, Hash: last.Hash}.String()
	}
	return rep, err
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
			bw := bufio.NewWriterSize(w, 1<<20)
			var buf []byte
			n := 0
			err = audit.Scan(cmd.Context(), src, fromSeq, toSeq, 0, func(page []audit.Entry) error {
				for i := range page {
					buf = append(fm.Append(buf[:0], &page[i]), '\n')
					if _, err := bw.Write(buf); err != nil {
						return err
					}
					n++
				}
				return nil
			})
			if ferr := bw.Flush(); err == nil {
				err = ferr
			}
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
	cmd.Flags().Uint64Var(&fromSeq, "from", 1, "first sequence number")
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
			head, err := src.Head(ctx)
			if err != nil {
				return err
			}
			next := uint64(1)
			if head.Seq > n {
				next = head.Seq - n + 1
			}
			var buf []byte
			for {
				if head.Seq >= next {
					err := audit.Scan(ctx, src, next, head.Seq, 0, func(page []audit.Entry) error {
						for i := range page {
							buf = append(fm.Append(buf[:0], &page[i]), '\n')
							g.stdout.Write(buf)
							next = page[i].Seq + 1
						}
						return nil
					})
					if err != nil {
						return err
					}
				}
				if !follow {
					return nil
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(interval):
				}
				if head, err = src.Head(ctx); err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return err
				}
			}
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&fmtName, "format", format.Text, "output format: "+strings.Join(format.Names(), ", "))
	cmd.Flags().Uint64VarP(&n, "lines", "n", 10, "how many of the newest entries to print first")
	cmd.Flags().BoolVarP(&follow, "follow", "f", true, "keep printing new entries until interrupted (--follow=false to stop)")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "how often to look for new entries")
	return cmd
}

// nodeAudit is the running node's audit side: the node security chain and
// the SIEM shippers (see runNode).
type nodeAudit struct {
	cfg     sink.Config
	home    *consensus.Home
	nodeLog *audit.NodeLog // nil when node_log.disabled
	signer  *security.LocalSigner
	chainID string
	svc     *sink.Service
	logger  *slog.Logger
}

// openAudit loads HOME/config/audit.toml, opens the node log (creating the
// audit key on first use) and records config_loaded and node_started. A
// truncated or damaged node log is refused (audit.ErrNodeLogTruncated)
// unless acceptTruncated; then the recovery is shouted on stderr.
func openAudit(h *consensus.Home, logger cmtlog.Logger, acceptTruncated bool, stderr io.Writer) (*nodeAudit, error) {
	cfgPath := filepath.Join(h.Dir(), sink.ConfigFile)
	cfg, err := sink.LoadConfig(cfgPath)
	if err != nil {
		return nil, err
	}
	cfg = cfg.Resolve(h.Dir())
	a := &nodeAudit{cfg: cfg, home: h, logger: slog.New(cometSlogHandler{logger.With("module", "audit")})}
	a.chainID, _ = h.ChainID()
	if cfg.NodeLog.Disabled {
		return a, nil
	}
	if a.signer, err = audit.LoadOrGenerateKey(cfg.NodeLog.KeyFile); err != nil {
		return nil, fmt.Errorf("audit key: %w", err)
	}
	if a.nodeLog, err = audit.OpenNodeLog(cfg.NodeLog.Path, a.signer, audit.NodeLogOptions{AcceptTruncated: acceptTruncated}); err != nil {
		if errors.Is(err, audit.ErrNodeLogTruncated) {
			return nil, fmt.Errorf("%w\nthe node security log lost entries or is damaged, so the node does not start. Keep a copy of %s and %s.hwm and check them (dstt audit verify --chain node). To start anyway, continuing the sequence after the highest seq ever written and recording the loss in the log: dstt start --accept-truncated-node-log",
				err, cfg.NodeLog.Path, cfg.NodeLog.Path)
		}
		return nil, err
	}
	if r := a.nodeLog.Recovery(); r != nil {
		fmt.Fprintf(stderr, `
WARNING: --accept-truncated-node-log: the node security log %s was truncated or damaged:
WARNING: %s
WARNING: kept signed entries up to seq %d; the highest seq ever written was %d (%d lost, never reused);
WARNING: damaged bytes moved to %q. Recorded as seq %d (%s) in the node log.

`, cfg.NodeLog.Path, r.Cause, r.Kept.Seq, r.HighWater.Seq, r.Lost(), r.MovedTo, r.Entry.Seq, r.Entry.Kind)
		a.logger.Error("node security log truncated or damaged; started with --accept-truncated-node-log",
			"kept_seq", r.Kept.Seq, "high_water_seq", r.HighWater.Seq, "moved_to", r.MovedTo, "entry_seq", r.Entry.Seq)
	}
	if a.nodeLog.HighWaterMarkCreated() {
		fmt.Fprintf(stderr, "warning: the node security log %s had no high-water mark (%s.hwm; written by an older dstt, or deleted): made one from the log, which could not be checked for truncation this time\n",
			cfg.NodeLog.Path, cfg.NodeLog.Path)
	}
	// What configuration the node runs with, by content hash.
	var files, sums []string
	for _, p := range []string{h.ConfigFile(), h.GenesisFile(), cfgPath} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		sum := sha256.Sum256(b)
		files = append(files, p)
		sums = append(sums, fmt.Sprintf("%s sha256=%x", filepath.Base(p), sum))
	}
	var sinkNames []string
	for _, s := range cfg.Sinks {
		if !s.Disabled {
			sinkNames = append(sinkNames, s.Name)
		}
	}
	if _, err := a.nodeLog.Append(audit.KindConfigLoaded, audit.Fields{
		Action: "load", Resources: files,
		Message: fmt.Sprintf("%s; audit sinks: [%s]", strings.Join(sums, ", "), strings.Join(sinkNames, " ")),
	}); err != nil {
		a.nodeLog.Close()
		return nil, err
	}
	nodeID, _ := h.NodeID()
	if _, err := a.nodeLog.Append(audit.KindNodeStarted, audit.Fields{
		Actor: nodeID, Action: "start",
		Message: fmt.Sprintf("dstt node starting: chain %s, audit key %X", a.chainID, a.signer.PubKey()),
	}); err != nil {
		a.nodeLog.Close()
		return nil, err
	}
	return a, nil
}

// recordPublicRPC records an --unsafe-public-rpc start in the node log:
// which CometBFT listeners are reachable from other hosts.
func (a *nodeAudit) recordPublicRPC(listeners []string) error {
	if a.nodeLog == nil || len(listeners) == 0 {
		return nil
	}
	_, err := a.nodeLog.Append(audit.KindConfigLoaded, audit.Fields{
		Action: "unsafe_public_rpc", Resources: listeners,
		Message: "WARNING: started with --unsafe-public-rpc on a chain with access control: CometBFT's RPC listens beyond loopback (" +
			strings.Join(listeners, ", ") + ") and serves every block, tx and value without authentication",
	})
	return err
}

// hook sends the engine adapter's node-local events (mempool rejections,
// refused reads) to the node log. Record never waits for the disk.
func (a *nodeAudit) hook(app *abci.App) {
	if a.nodeLog == nil {
		return
	}
	app.OnCheckTxRejected = func(txHash []byte, signer string, code types.Code, log string) {
		a.nodeLog.Record(audit.KindCheckTxRejected, audit.Fields{
			Actor: signer, Action: "check_tx", Code: uint32(code), CodeName: code.Name(), Message: log, TxHash: txHash,
		})
	}
	app.OnAuthFailure = func(reader, path, reason string) {
		a.nodeLog.Record(audit.KindAuthFailed, audit.Fields{
			Actor: reader, Action: "query", Resources: []string{path}, Code: uint32(types.CodeUnauthorized),
			CodeName: types.CodeUnauthorized.Name(), Message: reason,
		})
	}
}

// startSinks starts the shippers of the enabled sinks: the consensus chain
// is read from the node's own committed state (cons).
func (a *nodeAudit) startSinks(ctx context.Context, cons audit.Source) error {
	if len(a.cfg.Sinks) == 0 {
		return nil
	}
	sources := map[string]audit.Source{}
	sources["consensus"] = cons
	if a.nodeLog != nil {
		sources["node"] = a.nodeLog
	}
	cursors, err := sink.NewFileCursors(filepath.Join(a.home.DataDir(), "audit", "cursors"))
	if err != nil {
		return err
	}
	metrics, err := sink.NewMetrics(prometheus.DefaultRegisterer)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	a.svc, err = sink.Start(ctx, a.cfg.Sinks, sink.ServiceOptions{
		Sources: sources, Cursors: cursors, Hostname: host, ChainID: a.chainID, Metrics: metrics, Logger: a.logger,
	})
	return err
}

// close stops the shippers and records node_stopped.
func (a *nodeAudit) close() {
	if a.svc != nil {
		a.svc.Close()
	}
	if a.nodeLog != nil {
		a.nodeLog.Append(audit.KindNodeStopped, audit.Fields{Action: "stop", Message: "dstt node stopped"})
		a.nodeLog.Close()
	}
}

// cometSlogHandler sends log/slog records to a CometBFT logger.
type cometSlogHandler struct{ l cmtlog.Logger }

func (h cometSlogHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h cometSlogHandler) Handle(_ context.Context, r slog.Record) error {
	kv := make([]any, 0, 2*r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		kv = append(kv, a.Key, a.Value.Any())
		return true
	})
	switch {
	case r.Level >= slog.LevelWarn: // a sink failing is worth seeing at the default level
		h.l.Error(r.Message, kv...)
	case r.Level >= slog.LevelInfo:
		h.l.Info(r.Message, kv...)
	default:
		h.l.Debug(r.Message, kv...)
	}
	return nil
}

func (h cometSlogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	kv := make([]any, 0, 2*len(attrs))
	for _, a := range attrs {
		kv = append(kv, a.Key, a.Value.Any())
	}
	return cometSlogHandler{h.l.With(kv...)}
}

func (h cometSlogHandler) WithGroup(string) slog.Handler { return h }
