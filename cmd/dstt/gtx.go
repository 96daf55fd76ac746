package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/transport/client"
	"github.com/dstt/dstt/transport/executor"
	"github.com/dstt/dstt/types"
)

// `dstt gtx`: global transactions. Writes go through `dstt tx`'s submit
// (--from signs); reads are signed with --from like `dstt query`.

func newGtxCmd(g *globals) *cobra.Command {
	f := &txFlags{validFor: client.DefaultValidFor}
	cmd := &cobra.Command{
		Use:   "gtx",
		Short: "Global transactions: sagas and TCC across organisations (docs/TRANSACTIONS.md)",
		Long: `Begin global transactions (gtxs), follow them step by step, and manage the
participants they call. The chain coordinates every gtx; executors beside the
nodes (dstt start --gtx-executor) call the participants and submit their
signed answers.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.from, "from", "", "key that signs the tx or the read (default: the home's; for reads, - sends them unsigned)")
	pf.DurationVar(&f.timeout, "timeout", 30*time.Second, "how long to wait for the node")
	cmd.AddCommand(newGtxBeginCmd(g, f), newGtxShowCmd(g, f), newGtxListCmd(g, f), newGtxWatchCmd(g, f),
		newGtxPendingCmd(g, f), newGtxParticipantCmd(g, f), newGtxStepCmd(g))
	return cmd
}

// gtxFile is the JSON of `gtx begin FILE`.
type gtxFile struct {
	Gid string `json:"gid"`
	// Mode is saga or tcc.
	Mode string `json:"mode"`
	// Deadline is a duration from now ("90s") or an RFC 3339 time; the
	// chain compares it with block time.
	Deadline string `json:"deadline"`
	Branches []struct {
		Participant string          `json:"participant"`
		Action      json.RawMessage `json:"action"`
		Compensate  json.RawMessage `json:"compensate"`
		Try         json.RawMessage `json:"try"`
		Confirm     json.RawMessage `json:"confirm"`
		Cancel      json.RawMessage `json:"cancel"`
	} `json:"branches"`
	CommitWrites []struct {
		Key    string `json:"key"`
		Value  string `json:"value"`
		Delete bool   `json:"delete"`
	} `json:"commit_writes"`
}

// payloadBytes is a payload from the file: a JSON string is its text, any
// other JSON value its compact encoding, absent or null nothing.
func payloadBytes(raw json.RawMessage) ([]byte, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []byte(s), nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// parseGtxFile turns the file into a BeginGtx; now anchors a relative
// deadline.
func parseGtxFile(data []byte, now time.Time) (*types.BeginGtx, error) {
	var f gtxFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	b := &types.BeginGtx{Gid: f.Gid}
	switch f.Mode {
	case "saga":
		b.Mode = types.GtxMode_GTX_MODE_SAGA
	case "tcc":
		b.Mode = types.GtxMode_GTX_MODE_TCC
	default:
		return nil, fmt.Errorf(`mode %q: want "saga" or "tcc"`, f.Mode)
	}
	if d, err := time.ParseDuration(f.Deadline); err == nil {
		b.DeadlineUnixMs = now.Add(d).UnixMilli()
	} else if t, err := time.Parse(time.RFC3339Nano, f.Deadline); err == nil {
		b.DeadlineUnixMs = t.UnixMilli()
	} else {
		return nil, fmt.Errorf(`deadline %q: want a duration from now ("90s") or an RFC 3339 time`, f.Deadline)
	}
	for i, br := range f.Branches {
		gb := types.GtxBranch{Participant: br.Participant}
		for _, p := range []struct {
			to  *[]byte
			raw json.RawMessage
		}{{&gb.Action, br.Action}, {&gb.Compensate, br.Compensate}, {&gb.Try, br.Try}, {&gb.Confirm, br.Confirm}, {&gb.Cancel, br.Cancel}} {
			var err error
			if *p.to, err = payloadBytes(p.raw); err != nil {
				return nil, fmt.Errorf("branch %d: %v", i, err)
			}
		}
		b.Branches = append(b.Branches, gb)
	}
	for _, w := range f.CommitWrites {
		b.CommitWrites = append(b.CommitWrites, types.GtxWrite{Key: w.Key, Value: []byte(w.Value), Delete: w.Delete})
	}
	return b, nil
}

func newGtxBeginCmd(g *globals, f *txFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "begin FILE.json",
		Short: "Begin a gtx described in FILE.json (- for stdin)",
		Long: `Begin the gtx in FILE.json ("-" for stdin):

  {"gid": "t-1001", "mode": "saga", "deadline": "60s",
   "branches": [
     {"participant": "bank1", "action": {"debit": 100}, "compensate": {"credit": 100}},
     {"participant": "bank2", "action": {"credit": 100}, "compensate": {"debit": 100}}],
   "commit_writes": [{"key": "transfers/t-1001", "value": "done"}]}

mode is saga (action, compensate) or tcc (try, confirm, cancel). A payload
that is a JSON string is sent as its text; any other JSON value as its
compact JSON. deadline is a duration from now or an RFC 3339 time: a block
time, after which a running gtx rolls back. commit_writes apply to the
ledger only if the gtx commits. The signer needs gtx:begin on each
participant (docs/RBAC.md).`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			data, err := readInput(args[0])
			if err != nil {
				return err
			}
			b, err := parseGtxFile(data, time.Now())
			if err != nil {
				return usageErr("%s: %v", args[0], err)
			}
			return g.submit(f, []types.Op{{Sum: &types.Op_BeginGtx{BeginGtx: b}}})
		},
	}
}

// readGtx runs read with a client whose reads --from signs, bounded by
// --timeout (0: no bound).
func (g *globals) readGtx(f *txFlags, read func(ctx context.Context, c *client.Client) error) error {
	c, _, cancel, err := g.readerClient(f.from)
	if err != nil {
		return err
	}
	cancel() // readerClient's own deadline; --timeout is this one's
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	if f.timeout > 0 {
		ctx, cancel = context.WithTimeout(context.Background(), f.timeout)
	}
	defer cancel()
	return read(ctx, c)
}

func newGtxShowCmd(g *globals, f *txFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "show GID",
		Short: "Show a gtx and its journal: each step's branch, operation, attempts, answer, signer and height",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return g.readGtx(f, func(ctx context.Context, c *client.Client) error {
				gt, err := c.Gtx(ctx, args[0])
				if err != nil {
					return err
				}
				v := api.GtxViewOf(gt)
				return g.print(v, func(w io.Writer) { gtxText(w, &v) })
			})
		},
	}
}

// payloadText shows a payload as text when it is printable UTF-8, else hex.
func payloadText(b []byte) string {
	if len(b) == 0 {
		return "-"
	}
	if utf8.Valid(b) && !bytes.ContainsFunc(b, func(r rune) bool { return r < ' ' && r != '\t' }) {
		return string(b)
	}
	return "0x" + hex.EncodeToString(b)
}

// gtxText prints a gtx: header, branches, then the journal.
func gtxText(w io.Writer, v *api.GtxView) {
	fmt.Fprintf(w, "gtx %s (%s): %s\n", v.Gid, v.Mode, strings.ToUpper(v.Phase))
	if v.AbortReason != "" && v.AbortBranch != nil {
		fmt.Fprintf(w, "  rolling back: %s (branch %d)\n", v.AbortReason, *v.AbortBranch)
	}
	end := "-"
	if v.EndHeight != 0 {
		end = fmt.Sprint(v.EndHeight)
	}
	fmt.Fprintf(w, "  creator %s, begun at height %d, ended at %s, deadline %s\n", v.Creator, v.BeginHeight, end, v.Deadline)
	for i, b := range v.Branches {
		fmt.Fprintf(w, "  branch %d: %s\n", i, b.Participant)
	}
	for _, cw := range v.CommitWrites {
		if cw.Delete {
			fmt.Fprintf(w, "  on commit: delete %s\n", cw.Key)
		} else {
			fmt.Fprintf(w, "  on commit: put %s = %s\n", cw.Key, payloadText(cw.Value))
		}
	}
	fmt.Fprintf(w, "%-4s %-6s %-12s %-10s %-8s %-10s %-8s %-40s %s\n", "STEP", "BRANCH", "OPERATION", "STATE", "ATTEMPT", "ANSWER", "HEIGHT", "SIGNER", "RESULT")
	for i, s := range v.Steps {
		answer, height, signer := "-", fmt.Sprintf("due@%d", s.DueHeight), "-"
		if s.Status != "" {
			answer, height, signer = s.Status, fmt.Sprintf("%d.%d", s.AnswerHeight, s.AnswerTxIndex), s.Signer
		}
		fmt.Fprintf(w, "%-4d %-6d %-12s %-10s %-8d %-10s %-8s %-40s %s\n", i+1, s.Branch, s.Op, s.State, s.Attempt, answer, height, signer, payloadText(s.Result))
	}
}

func newGtxListCmd(g *globals, f *txFlags) *cobra.Command {
	var open bool
	var after string
	var limit uint32
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List gtxs in gid order (those the reader may read)",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			return g.readGtx(f, func(ctx context.Context, c *client.Client) error {
				l, err := c.GtxList(ctx, &types.GtxListRequest{After: after, Limit: limit, OpenOnly: open})
				if err != nil {
					return err
				}
				v := api.GtxListViewOf(l)
				return g.print(v, func(w io.Writer) {
					fmt.Fprintf(w, "%-24s %-5s %-11s %-8s %-8s %-8s %s\n", "GID", "MODE", "PHASE", "BRANCHES", "BEGUN", "ENDED", "DEADLINE")
					for _, s := range v.Gtxs {
						fmt.Fprintf(w, "%-24s %-5s %-11s %-8d %-8d %-8d %s\n", s.Gid, s.Mode, s.Phase, s.Branches, s.BeginHeight, s.EndHeight, s.Deadline)
					}
					if v.Next != "" {
						fmt.Fprintf(w, "more: dstt gtx list --after %s\n", v.Next)
					}
				})
			})
		},
	}
	cmd.Flags().BoolVar(&open, "open", false, "only gtxs not yet committed or aborted")
	cmd.Flags().StringVar(&after, "after", "", "start after this gid (the previous page's last)")
	cmd.Flags().Uint32Var(&limit, "limit", 0, fmt.Sprintf("at most this many (0: %d, at most %d)", types.GtxPageDefault, types.GtxPageMax))
	return cmd
}

func newGtxWatchCmd(g *globals, f *txFlags) *cobra.Command {
	var poll time.Duration
	cmd := &cobra.Command{
		Use:   "watch GID",
		Short: "Follow a gtx: print it whenever it moves, until it is committed or aborted",
		Long: `Follow a gtx: print it whenever it moves, until it is committed or aborted
(or --timeout passes; 0 waits as long as it takes).`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return g.readGtx(f, func(ctx context.Context, c *client.Client) error {
				var perr error
				_, err := c.AwaitGtx(ctx, args[0], poll, func(gt *types.Gtx) {
					v := api.GtxViewOf(gt)
					if perr == nil {
						perr = g.print(v, func(w io.Writer) { gtxText(w, &v); fmt.Fprintln(w) })
					}
				})
				if err != nil {
					return err
				}
				return perr
			})
		},
	}
	cmd.Flags().DurationVar(&poll, "poll", 500*time.Millisecond, "how often to read the gtx")
	return cmd
}

func newGtxPendingCmd(g *globals, f *txFlags) *cobra.Command {
	var org string
	cmd := &cobra.Command{
		Use:   "pending",
		Short: "List the awaited steps of the open gtxs: what the executors run next",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			return g.readGtx(f, func(ctx context.Context, c *client.Client) error {
				p, err := c.GtxPending(ctx, &types.GtxPendingRequest{Org: org, Limit: types.GtxPageMax})
				if err != nil {
					return err
				}
				v := api.GtxPendingViewOf(p)
				return g.print(v, func(w io.Writer) {
					fmt.Fprintf(w, "%-24s %-6s %-12s %-8s %-16s %s\n", "GID", "BRANCH", "OPERATION", "ATTEMPT", "PARTICIPANT", "ENDPOINT")
					for _, s := range v.Work {
						fmt.Fprintf(w, "%-24s %-6d %-12s %-8d %-16s %s\n", s.Gid, s.Branch, s.Op, s.Attempt, s.Participant, s.Endpoint)
					}
					if v.Next != "" {
						fmt.Fprintf(w, "more after %s\n", v.Next)
					}
				})
			})
		},
	}
	cmd.Flags().StringVar(&org, "org", "", "only steps of this org's participants")
	return cmd
}

func newGtxParticipantCmd(g *globals, f *txFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "participant", Short: "Register, update, show or remove gtx participants"}
	var org, pubHex, endpoint string
	register := &cobra.Command{
		Use:   "register ID --org ORG --pub-key HEX --endpoint URL",
		Short: "Register a participant (or update its key and endpoint); signed by an admin of ORG",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			pub, err := hex.DecodeString(pubHex)
			if err != nil || len(pub) != types.PubKeySize {
				return usageErr("--pub-key %q: want the participant's ed25519 public key, 64 hex digits", pubHex)
			}
			op := &types.RegisterParticipant{Id: args[0], Org: org, PubKey: pub, Endpoint: endpoint}
			return g.submit(f, []types.Op{{Sum: &types.Op_RegisterParticipant{RegisterParticipant: op}}})
		},
	}
	register.Flags().StringVar(&org, "org", "", "the participant's organisation (its admin signs)")
	register.Flags().StringVar(&pubHex, "pub-key", "", "hex ed25519 public key that signs the participant's answers")
	register.Flags().StringVar(&endpoint, "endpoint", "", "http(s) URL where executors call the participant")
	remove := &cobra.Command{
		Use:   "remove ID",
		Short: "Remove a participant that no open gtx names; signed by an admin of its org",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return g.submit(f, []types.Op{{Sum: &types.Op_RemoveParticipant{RemoveParticipant: &types.RemoveParticipant{Id: args[0]}}}})
		},
	}
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show a participant: org, key, endpoint",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return g.readGtx(f, func(ctx context.Context, c *client.Client) error {
				p, err := c.Participant(ctx, args[0])
				if err != nil {
					return err
				}
				v := api.ParticipantViewOf(p)
				return g.print(v, func(w io.Writer) {
					fmt.Fprintf(w, "participant %s of org %s\n  key %s (address %s)\n  endpoint %s\n  registered at height %d\n", v.ID, v.Org, v.PubKey, v.Address, v.Endpoint, v.Height)
				})
			})
		},
	}
	cmd.AddCommand(register, remove, show)
	return cmd
}

// gtxGateDir is where `gtx step` leaves releases for an executor started
// with single-stepping in this home (transport/executor.StepGate).
func gtxGateDir(home string) string { return filepath.Join(home, "data", "gtx-step") }

func newGtxStepCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "step GID",
		Short: "Let a single-stepping executor of this home run the next step of GID",
		Long: `Let the executor of dstt start --gtx-executor --gtx-executor-step (same
--home) run the next step of GID: such an executor calls a participant only
after a dstt gtx step for that gtx, one step each.`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if !types.ValidGtxName(args[0], types.MaxGtxIDBytes) {
				return usageErr("%q is not a gid", args[0])
			}
			if err := (executor.StepGate{Dir: gtxGateDir(g.home)}).Release(args[0]); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "released the next step of %s\n", args[0])
			return nil
		},
	}
}
