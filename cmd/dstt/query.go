package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/dstt/dstt/security/vault"
	"github.com/dstt/dstt/transport/client"
	"github.com/dstt/dstt/types"
)

type kvJSON struct {
	Key         string `json:"key"`
	Value       string `json:"value,omitempty"`
	ValueBase64 string `json:"value_base64,omitempty"`
	Version     string `json:"version"`
	Height      int64  `json:"height"`
	Deleted     bool   `json:"deleted,omitempty"`
}

func toKVJSON(kv types.KV, height int64) kvJSON {
	out := kvJSON{Key: kv.Key, Version: kv.Version.Text(), Height: height, Deleted: kv.Deleted}
	if !kv.Deleted {
		if utf8.Valid(kv.Value) {
			out.Value = string(kv.Value)
		} else {
			out.ValueBase64 = base64.StdEncoding.EncodeToString(kv.Value)
		}
	}
	return out
}

func (k kvJSON) text() string {
	switch {
	case k.Deleted:
		return "(deleted)"
	case k.ValueBase64 != "":
		return "base64:" + k.ValueBase64
	}
	return k.Value
}

func newQueryCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use: "query", Aliases: []string{"q"}, Short: "Read keys, history and tx results",
		Long: `Read from the node. Queries are signed with --from (default: the home's key)
so that keys only some readers may read can be read; --from - sends them
unsigned, which only works for keys "anyone" may read.`,
	}
	var from string
	cmd.PersistentFlags().StringVar(&from, "from", "", "key that signs the query (default: the home's; - for unsigned)")
	cmd.AddCommand(newQueryGetCmd(g, &from), newQueryHistoryCmd(g, &from), newQueryTxCmd(g, &from), newQueryIdentityCmd(g, &from))
	return cmd
}

// newQueryGetCmd is `query get`; from is the parent's --from.
func newQueryGetCmd(g *globals, from *string) *cobra.Command {
	var height int64
	var decrypt bool // envelope encryption
	get := &cobra.Command{
		Use:   "get KEY",
		Short: "Read KEY's value (latest, or as of --height)",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			c, ctx, cancel, err := g.readerClient(*from)
			if err != nil {
				return err
			}
			defer cancel()
			kv, h, err := c.Get(ctx, args[0], height)
			if err != nil {
				return err
			}
			if decrypt { // envelope encryption
				if kv.Value, err = g.openValue(ctx, kv); err != nil {
					return err
				}
			}
			out := toKVJSON(kv, h)
			return g.print(out, func(w io.Writer) {
				fmt.Fprintf(w, "%s = %s\n  version %s, read at height %d\n", out.Key, out.text(), out.Version, out.Height)
			})
		},
	}
	get.Flags().Int64Var(&height, "height", 0, "read the value as of this height (0 = latest)")
	get.Flags().BoolVar(&decrypt, "decrypt", false, "decrypt a value written with tx put --encrypt, unwrapping its data key through Vault transit")
	return get
}

// historyJSON is a page of `query history`.
type historyJSON struct {
	Key      string   `json:"key"`
	Versions []kvJSON `json:"versions"`
	Next     string   `json:"next,omitempty"`
}

func (out historyJSON) text(w io.Writer) {
	if len(out.Versions) == 0 {
		fmt.Fprintf(w, "%s has no history\n", out.Key)
		return
	}
	fmt.Fprintf(w, "%-12s %-8s %s\n", "VERSION", "HEIGHT", "VALUE")
	for _, v := range out.Versions {
		fmt.Fprintf(w, "%-12s %-8d %s\n", v.Version, v.Height, v.text())
	}
	if out.Next != "" {
		fmt.Fprintf(w, "more: dstt query history %s --before %s\n", out.Key, out.Next)
	}
}

// newQueryHistoryCmd is `query history`; from is the parent's --from.
func newQueryHistoryCmd(g *globals, from *string) *cobra.Command {
	var limit uint32
	var before string
	var decrypt bool // envelope encryption
	history := &cobra.Command{
		Use:   "history KEY",
		Short: "List KEY's versions, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			req := types.HistoryRequest{Key: args[0], Limit: limit}
			if before != "" {
				v, err := types.ParseVersion(before)
				if err != nil {
					return err
				}
				req.Before = v
			}
			c, ctx, cancel, err := g.readerClient(*from)
			if err != nil {
				return err
			}
			defer cancel()
			h, err := c.History(ctx, req)
			if err != nil {
				return err
			}
			if decrypt { // envelope encryption
				for i := range h.Versions {
					h.Versions[i].Key = h.Key
				}
				if h.Versions, err = g.openValues(ctx, h.Versions); err != nil {
					return err
				}
			}
			out := historyJSON{Key: h.Key, Versions: make([]kvJSON, len(h.Versions))}
			for i, kv := range h.Versions {
				out.Versions[i] = toKVJSON(kv, int64(kv.Version.Height))
			}
			if !h.Next.IsZero() {
				out.Next = h.Next.Text()
			}
			return g.print(out, out.text)
		},
	}
	history.Flags().Uint32Var(&limit, "limit", 100, "versions per page (max 1000)")
	history.Flags().StringVar(&before, "before", "", "start below this version (from the previous page)")
	history.Flags().BoolVar(&decrypt, "decrypt", false, "decrypt the versions written with tx put --encrypt through Vault transit, as query get --decrypt does (plain versions are shown as they are)")
	return history
}

// txResultJSON is what `query tx` prints.
type txResultJSON struct {
	Hash   string      `json:"hash"`
	Height uint64      `json:"height"`
	Index  uint32      `json:"index"`
	Code   uint32      `json:"code"`
	Name   string      `json:"code_name"`
	Log    string      `json:"log"`
	Signer string      `json:"signer"`
	Writes []writeJSON `json:"writes"`
}

func (out txResultJSON) text(w io.Writer) {
	fmt.Fprintf(w, "tx %s\n  height %d, index %d, signer %s\n  result: %s", out.Hash, out.Height, out.Index, out.Signer, out.Name)
	if out.Log != "" {
		fmt.Fprintf(w, " (%s)", out.Log)
	}
	fmt.Fprintln(w)
	for _, wr := range out.Writes {
		fmt.Fprintf(w, "  wrote %s version %s\n", wr.Key, wr.Version)
	}
}

// newQueryTxCmd is `query tx`; from is the parent's --from.
func newQueryTxCmd(g *globals, from *string) *cobra.Command {
	return &cobra.Command{
		Use:   "tx HASH",
		Short: "Show a committed tx's result by its hash",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			hash, err := hex.DecodeString(strings.TrimPrefix(strings.TrimPrefix(args[0], "0x"), "0X"))
			if err != nil || len(hash) != 32 {
				return fmt.Errorf("%q is not a tx hash (want 64 hex digits, as printed by dstt tx)", args[0])
			}
			c, ctx, cancel, err := g.readerClient(*from)
			if err != nil {
				return err
			}
			defer cancel()
			r, err := c.Tx(ctx, hash)
			if err != nil {
				return err
			}
			out := txResultJSON{strings.ToUpper(hex.EncodeToString(hash)), r.Height, r.TxIndex, r.Code, types.Code(r.Code).Name(), r.Log, r.Signer, writesJSON(r.Writes)}
			return g.print(out, out.text)
		},
	}
}

// readerClient connects to the node; queries are signed with the key from
// (or the home's default key) when there is one, so protected keys can be
// read. from "-" means unsigned.
func (g *globals) readerClient(from string) (*client.Client, context.Context, context.CancelFunc, error) {
	return g.readerClientOver(from, g.newClient)
}

// readerClientOver is readerClient on the client dial returns.
func (g *globals) readerClientOver(from string, dial func(...client.Option) (*client.Client, error)) (*client.Client, context.Context, context.CancelFunc, error) {
	c, err := dial()
	if err != nil {
		return nil, nil, nil, err
	}
	s, err := g.signerFor(from, "to sign the query; --from - for unsigned")
	if err != nil {
		return nil, nil, nil, err
	}
	if s != nil {
		c.SetReader(s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	return c, ctx, cancel, nil
}

// --- envelope encryption ---

// openValue decrypts an envelope-encrypted value through Vault; Vault's
// policy on transit/decrypt/KEK decides whether this reader may.
func (g *globals) openValue(ctx context.Context, kv types.KV) ([]byte, error) {
	if kv.Deleted {
		return nil, nil
	}
	if !vault.IsEnvelope(kv.Value) {
		return nil, fmt.Errorf("--decrypt: %q holds a plain value, not one written with tx put --encrypt", kv.Key)
	}
	out, err := g.openValues(ctx, []types.KV{kv})
	if err != nil {
		return nil, err
	}
	return out[0].Value, nil
}

// openValues decrypts the envelope-encrypted values among kvs through one
// Vault connection; plain values and deletes stay as they are.
func (g *globals) openValues(ctx context.Context, kvs []types.KV) ([]types.KV, error) {
	var v *vault.Client
	defer func() {
		if v != nil {
			v.Close()
		}
	}()
	out := slices.Clone(kvs)
	for i, kv := range out {
		if kv.Deleted || !vault.IsEnvelope(kv.Value) {
			continue
		}
		if v == nil {
			var err error
			if v, err = g.openVault(ctx); err != nil {
				return nil, fmt.Errorf("--decrypt: %w", err)
			}
		}
		pt, err := vault.OpenEnvelope(ctx, vault.TransitKeyWrapper{V: v}, kv.Key, kv.Value)
		if errors.Is(err, vault.ErrDenied) {
			return nil, fmt.Errorf("--decrypt: Vault does not let this token decrypt %q: %w", kv.Key, err)
		}
		if err != nil {
			return nil, fmt.Errorf("--decrypt: %q version %s: %w", kv.Key, kv.Version.Text(), err)
		}
		out[i].Value = pt
	}
	return out, nil
}
