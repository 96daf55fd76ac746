package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dstt/dstt/consensus"
	"github.com/dstt/dstt/security/vault"
	"github.com/dstt/dstt/transport/client"
	"github.com/dstt/dstt/types"
)

type txFlags struct {
	signOnly bool
	from     string
	memo     string
	validFor uint64
	timeout  time.Duration
}

func newTxCmd(g *globals) *cobra.Command {
	f := &txFlags{}
	cmd := &cobra.Command{
		Use:   "tx",
		Short: "Sign and submit transactions (waits until committed)",
		Long: `Sign a transaction with a key from the keyring, submit it to the node and wait
until it is committed in a block. A transaction is all-or-nothing: if any op
fails, none applies. Exit status is 1 when the tx is refused or fails.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.from, "from", "", "name of the signing key (default: the home's, set by start --dev)")
	pf.StringVar(&f.memo, "memo", "", "free text stored with the tx")
	pf.Uint64Var(&f.validFor, "valid-for", client.DefaultValidFor, "blocks the tx stays valid for")
	pf.DurationVar(&f.timeout, "timeout", 30*time.Second, "how long to wait for the node")
	pf.BoolVar(&f.signOnly, "sign-only", false, "print the signed tx (hex) instead of submitting it; submit later with dstt tx broadcast")
	cmd.AddCommand(newTxPutCmd(g, f), newTxDeleteCmd(g, f), newTxBatchCmd(g, f), newTxBroadcastCmd(g, f))
	return cmd
}

// newTxPutCmd is `tx put`; f holds the parent's flags.
func newTxPutCmd(g *globals, f *txFlags) *cobra.Command {
	// --- envelope encryption: put --encrypt [--kek NAME] ---
	var encrypt bool
	var kek string
	put := &cobra.Command{
		Use:   "put KEY VALUE",
		Short: "Write VALUE under KEY",
		Long: `Write VALUE under KEY.

With --encrypt the value is envelope-encrypted before it leaves this machine:
Vault transit makes a fresh data key under the key-encryption key --kek
(datakey/plaintext), the value is sealed with AES-256-GCM, and the chain
stores only the ciphertext and the wrapped data key. Reading it back needs
dstt query get KEY --decrypt and a Vault token allowed to use
transit/decrypt/KEK. Vault is reached through VAULT_ADDR, VAULT_TOKEN,
VAULT_CACERT, VAULT_NAMESPACE (see docs/KEYS.md).`,
		Args: cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			value := []byte(args[1])
			if encrypt {
				var err error
				if value, err = g.sealValue(f.timeout, kek, args[0], value); err != nil {
					return err
				}
			}
			return g.submit(f, []types.Op{{Sum: &types.Op_Put{Put: &types.Put{Key: args[0], Value: value}}}})
		},
	}
	put.Flags().BoolVar(&encrypt, "encrypt", false, "envelope-encrypt VALUE with a data key from Vault transit (see --kek)")
	put.Flags().StringVar(&kek, "kek", defaultKEK, "with --encrypt: the Vault transit aes256-gcm96 key that wraps the data key")
	// --- end envelope encryption ---
	return put
}

func newTxDeleteCmd(g *globals, f *txFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete KEY",
		Short: "Delete KEY (its history is kept)",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return g.submit(f, []types.Op{{Sum: &types.Op_Delete{Delete: &types.Delete{Key: args[0]}}}})
		},
	}
}

func newTxBatchCmd(g *globals, f *txFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "batch FILE.json",
		Short: "Submit several ops, with version checks, as one all-or-nothing tx",
		Long: `Submit the ops in FILE.json ("-" for stdin) as one transaction. The file is
either a list of ops or an object {"memo": "...", "ops": [...]}; each op is one of

  {"put":    {"key": "acct/1", "value": "100"}}
  {"put":    {"key": "blob", "value_base64": "AAEC"}}
  {"delete": {"key": "acct/2"}}
  {"check":  {"key": "acct/1", "version": "12.0"}}

A check aborts the whole tx with CONFLICT unless the key is at that version
("0" = the key must not exist). Versions are HEIGHT.INDEX as shown by
dstt query get.`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			data, err := readInput(args[0])
			if err != nil {
				return err
			}
			ops, memo, err := parseBatch(data)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if memo != "" && f.memo == "" {
				f.memo = memo
			}
			return g.submit(f, ops)
		},
	}
}

func newTxBroadcastCmd(g *globals, f *txFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "broadcast TX_HEX|@FILE|-",
		Short: "Submit an already signed tx (from --sign-only) and wait for its block",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			raw := []byte(args[0])
			if args[0] == "-" || strings.HasPrefix(args[0], "@") {
				var err error
				if raw, err = readInput(strings.TrimPrefix(args[0], "@")); err != nil {
					return err
				}
			}
			tx, err := hex.DecodeString(strings.TrimSpace(string(raw)))
			if err != nil {
				return fmt.Errorf("the tx must be hex, as printed by --sign-only: %v", err)
			}
			c, err := g.newClient()
			if err != nil {
				return err
			}
			ctx, cancel := g.commitContext(f.timeout)
			defer cancel()
			res, err := c.BroadcastCommit(ctx, tx)
			return g.report(res, err)
		},
	}
}

func readInput(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(path)
}

type batchOp struct {
	Put *struct {
		Key         string  `json:"key"`
		Value       *string `json:"value"`
		ValueBase64 *string `json:"value_base64"`
	} `json:"put"`
	Delete *struct {
		Key string `json:"key"`
	} `json:"delete"`
	Check *struct {
		Key     string `json:"key"`
		Version string `json:"version"`
	} `json:"check"`
}

// parseBatch reads the batch file format documented on `tx batch`.
func parseBatch(data []byte) ([]types.Op, string, error) {
	var file struct {
		Memo string    `json:"memo"`
		Ops  []batchOp `json:"ops"`
	}
	trimmed := bytes.TrimSpace(data)
	var err error
	if len(trimmed) > 0 && trimmed[0] == '[' {
		err = strictJSON(trimmed, &file.Ops)
	} else {
		err = strictJSON(trimmed, &file)
	}
	if err != nil {
		return nil, "", fmt.Errorf("not a batch file: %v", err)
	}
	if len(file.Ops) == 0 {
		return nil, "", errors.New("the batch has no ops")
	}
	ops := make([]types.Op, 0, len(file.Ops))
	for i, o := range file.Ops {
		n := 0
		for _, set := range []bool{o.Put != nil, o.Delete != nil, o.Check != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			return nil, "", fmt.Errorf("op %d: want exactly one of put, delete, check", i)
		}
		switch {
		case o.Put != nil:
			var val []byte
			switch {
			case o.Put.Value != nil && o.Put.ValueBase64 == nil:
				val = []byte(*o.Put.Value)
			case o.Put.ValueBase64 != nil && o.Put.Value == nil:
				if val, err = base64.StdEncoding.DecodeString(*o.Put.ValueBase64); err != nil {
					return nil, "", fmt.Errorf("op %d: value_base64: %v", i, err)
				}
			default:
				return nil, "", fmt.Errorf("op %d: put needs exactly one of value, value_base64", i)
			}
			ops = append(ops, types.Op{Sum: &types.Op_Put{Put: &types.Put{Key: o.Put.Key, Value: val}}})
		case o.Delete != nil:
			ops = append(ops, types.Op{Sum: &types.Op_Delete{Delete: &types.Delete{Key: o.Delete.Key}}})
		case o.Check != nil:
			v, err := types.ParseVersion(o.Check.Version)
			if err != nil {
				return nil, "", fmt.Errorf("op %d: %w", i, err)
			}
			ops = append(ops, types.Op{Sum: &types.Op_Check{Check: &types.Check{Key: o.Check.Key, Version: v}}})
		}
	}
	return ops, file.Memo, nil
}

func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

type writeJSON struct {
	Key     string `json:"key"`
	Version string `json:"version"`
	Deleted bool   `json:"deleted,omitempty"`
}

type txJSON struct {
	Hash   string      `json:"hash"`
	Height int64       `json:"height"`
	Code   uint32      `json:"code"`
	Name   string      `json:"code_name"`
	Log    string      `json:"log"`
	Writes []writeJSON `json:"writes"`
}

func writesJSON(ws []types.Write) []writeJSON {
	out := make([]writeJSON, len(ws))
	for i, w := range ws {
		out[i] = writeJSON{Key: w.Key, Version: w.Version.Text(), Deleted: w.Deleted}
	}
	return out
}

// submit signs ops with --from and waits for the block result.
func (g *globals) submit(f *txFlags, ops []types.Op) error {
	signer, err := g.signerFor(f.from, "to sign the tx")
	if err != nil {
		return err
	}
	if signer == nil {
		return errors.New("no signing key: pass --from NAME (see dstt keys list)")
	}
	c, err := g.newClient()
	if err != nil {
		return err
	}
	timeout := f.timeout
	if f.signOnly {
		timeout = min(timeout, 30*time.Second) // no commit to wait for
	}
	ctx, cancel := g.commitContext(timeout)
	defer cancel()
	body := types.TxBody{Ops: ops, Memo: f.memo}
	info, err := c.ChainInfo(ctx)
	if err != nil {
		return err
	}
	body.ValidUntilHeight = uint64(info.LatestHeight) + f.validFor
	if f.signOnly {
		tx, err := c.Sign(ctx, &body, signer)
		if err != nil {
			return err
		}
		out := map[string]string{"tx": hex.EncodeToString(tx), "hash": types.TxHashHex(tx)}
		return g.print(out, func(w io.Writer) { fmt.Fprintln(w, out["tx"]) })
	}
	res, err := c.Submit(ctx, &body, signer)
	return g.report(res, err)
}

// commitContext bounds a submit that waits for its block by timeout. The
// node answers "not committed yet" sooner when its own cap is lower: the
// REST gateway waits at most client.MaxCommitWait (its
// --rest-max-commit-timeout may be lower still), CometBFT's RPC
// timeout_broadcast_tx_commit (config.toml, 10 s by default). A longer
// timeout gets a warning that says so, rather than being cut silently.
func (g *globals) commitContext(timeout time.Duration) (context.Context, context.CancelFunc) {
	if limit, what := g.commitCap(); timeout > limit {
		fmt.Fprintf(g.stderr, "warning: --timeout %s is above how long the node waits for a commit, %s (%s); after that the tx is reported as not committed yet (exit 1, code COMMIT_TIMEOUT): look it up with dstt query tx HASH\n", timeout, what, limit)
	}
	return context.WithTimeout(context.Background(), timeout)
}

// commitCap is how long the node waits for a commit over this transport,
// and what sets it.
func (g *globals) commitCap() (time.Duration, string) {
	if g.transport != transportRPC {
		return client.MaxCommitWait, "the most a client asks the REST gateway for; its --rest-max-commit-timeout may be lower"
	}
	limit := 10 * time.Second // CometBFT's default
	if h, err := consensus.OpenHome(g.home); err == nil {
		if c, err := h.Config(); err == nil && c.RPC.TimeoutBroadcastTxCommit > 0 {
			limit = c.RPC.TimeoutBroadcastTxCommit
		}
	}
	return limit, "CometBFT's timeout_broadcast_tx_commit in the node's config.toml [rpc]; use the REST gateway to wait longer"
}

// report prints a submitted tx's outcome; a refused or failed tx is an
// error (exit status 1), printed as JSON too with -o json.
func (g *globals) report(res client.Result, err error) error {
	var txErr *client.TxError
	switch {
	case errors.As(err, &txErr):
		out := txJSON{Hash: txErr.Hash, Height: txErr.Height, Code: uint32(txErr.Code), Name: txErr.Code.Name(), Log: txErr.Log, Writes: []writeJSON{}}
		if g.json() {
			_ = g.print(out, nil)
		}
		return err
	case err != nil:
		return err
	}
	out := txJSON{Hash: res.Hash, Height: res.Height, Code: uint32(res.Code), Name: res.Code.Name(), Log: res.Log, Writes: writesJSON(res.Writes)}
	return g.print(out, func(w io.Writer) {
		fmt.Fprintf(w, "committed tx %s at height %d\n", res.Hash, res.Height)
		for _, wr := range res.Writes {
			op := "put"
			if wr.Deleted {
				op = "delete"
			}
			fmt.Fprintf(w, "  %-6s %s  version %s\n", op, wr.Key, wr.Version.Text())
		}
	})
}

// --- envelope encryption ---

// defaultKEK is the transit key tx put --encrypt wraps data keys with.
const defaultKEK = "dstt-data"

// sealValue envelope-encrypts value for key through Vault. On any error
// nothing is returned, so nothing half-encrypted is ever submitted.
func (g *globals) sealValue(timeout time.Duration, kek, key string, value []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	v, err := g.openVault(ctx)
	if err != nil {
		return nil, fmt.Errorf("--encrypt: %w (nothing was submitted)", err)
	}
	defer v.Close()
	env, err := vault.SealEnvelope(ctx, vault.TransitKeyWrapper{V: v}, kek, key, value)
	if err != nil {
		if errors.Is(err, vault.ErrNotFound) {
			return nil, fmt.Errorf("--encrypt: %w (create the key-encryption key once: dstt keys add %s --kek; nothing was submitted)", err, kek)
		}
		return nil, fmt.Errorf("--encrypt: %w (nothing was submitted)", err)
	}
	return env, nil
}
