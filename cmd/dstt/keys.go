package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/security/keyring"
	"github.com/dstt/dstt/security/vault"
	"github.com/dstt/dstt/transport/client"
	"github.com/dstt/dstt/types"
)

func keyringDir(home string) string { return filepath.Join(home, "keyring") } // = consensus.Home.KeyringDir()

// openKeyring opens the home's keyring with the chosen backend; the file
// backend takes its passphrase from $DSTT_KEYRING_PASSPHRASE or a prompt.
func (g *globals) openKeyring() (keyring.Keyring, error) {
	pass := keyring.EnvOrPromptPassphrase("DSTT_KEYRING_PASSPHRASE", os.Stdin, g.stderr)
	return keyring.Open(g.backend, keyringDir(g.home), pass)
}

// signerFor returns the keyring signer named from, or the home's default key
// (client.json) when from is empty. It returns nil, nil when there is no key
// to use: from is "-" (unsigned, for reads), or no name is set at all.
func (g *globals) signerFor(from, purpose string) (security.Signer, error) {
	if from == "" {
		cc, _ := loadClientConfig(g.home)
		from = cc.From
	}
	if from == "" || from == "-" {
		return nil, nil
	}
	kr, err := g.openKeyring()
	if err != nil {
		return nil, err
	}
	s, err := kr.Signer(from)
	if err != nil {
		return nil, fmt.Errorf("key %q (%s; list keys: dstt keys list --keyring-backend %s): %w", from, purpose, g.backendName(), err)
	}
	return s, nil
}

func newKeysCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage signing keys in the home's keyring"}
	cmd.AddCommand(newKeysAddCmd(g), newKeysImportCmd(g), newKeysDeleteCmd(g), newKeysRotateCmd(g), newKeysListCmd(g), newKeysShowCmd(g), newKeysHistoryCmd(g))
	return cmd
}

func newKeysAddCmd(g *globals) *cobra.Command {
	var kek bool
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Generate a new ed25519 key",
		Long: `Generate a new ed25519 key and store it in the keyring. With the default file
backend the key is encrypted at rest; the passphrase comes from
$DSTT_KEYRING_PASSPHRASE or a prompt. With --keyring-backend vault the key is
an ed25519 key in Vault's transit engine and never leaves Vault; --kek makes
an aes256-gcm96 transit key instead, to wrap data keys for tx put --encrypt.`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if kek {
				return g.addKEK(args[0])
			}
			kr, err := g.openKeyring()
			if err != nil {
				return err
			}
			k, err := kr.Add(args[0])
			if err != nil {
				return err
			}
			return g.printNewKey("created", k)
		},
	}
	add.Flags().BoolVar(&kek, "kek", false, "vault backend: create an aes256-gcm96 key-encryption key for envelope encryption")
	return add
}

func newKeysListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the keys",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			kr, err := g.openKeyring()
			if err != nil {
				return err
			}
			ks, err := kr.List()
			if err != nil {
				return err
			}
			out, err := g.keysJSON(ks...)
			if err != nil {
				return err
			}
			return g.print(out, func(w io.Writer) {
				if len(ks) == 0 {
					fmt.Fprintf(w, "no keys in the %s keyring at %s (create one: dstt keys add NAME)\n", g.backendName(), keyringDir(g.home))
					return
				}
				fmt.Fprintf(w, "%-20s %-40s  %s\n", "NAME", "ADDRESS (IDENTITY)", "KEY ADDRESS")
				for _, k := range out {
					fmt.Fprintf(w, "%-20s %-40s  %s\n", k.Name, k.Address, k.KeyAddress)
				}
			})
		},
	}
}

func newKeysShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Show a key's identity address, its own address and public key",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			kr, k, err := g.showKey(args[0])
			if err != nil {
				return err
			}
			kj, err := g.keysJSON(k)
			if err != nil {
				return err
			}
			out := showJSON{keyJSON: kj[0]}
			if v := vault.ClientOf(kr); v != nil {
				out.Vault = vaultKeyJSONOf(v, k.Name)
			}
			return g.print(out, func(w io.Writer) {
				fmt.Fprintf(w, "name:        %s\naddress:     %s (the identity: RBAC grants name it)\nkey_address: %s\npub_key:     %x\nbackend:     %s\n",
					k.Name, out.Address, out.KeyAddress, k.PubKey, k.Backend)
				if vk := out.Vault; vk != nil {
					fmt.Fprintf(w, "vault:       transit key %s at %s, signing version %d, latest version %d\n", vk.Key, vk.Address, vk.SigningVersion, vk.LatestVersion)
					if vk.LatestVersion > vk.SigningVersion {
						fmt.Fprintf(w, "             a rotation is pending: finish it with dstt keys rotate %s\n", k.Name)
					}
				}
			})
		},
	}
}

// showKey opens the keyring and looks the key name up.
func (g *globals) showKey(name string) (keyring.Keyring, keyring.KeyInfo, error) {
	kr, err := g.openKeyring()
	if err != nil {
		return nil, keyring.KeyInfo{}, err
	}
	k, err := kr.Show(name)
	if err != nil {
		return nil, keyring.KeyInfo{}, fmt.Errorf("%w: %q in the %s keyring (list them: dstt keys list)", err, name, g.backendName())
	}
	return kr, k, nil
}

// printNewKey prints a key just created or imported.
func (g *globals) printNewKey(verb string, k keyring.KeyInfo) error {
	out, err := g.keysJSON(k)
	if err != nil {
		return err
	}
	return g.print(out[0], func(w io.Writer) {
		fmt.Fprintf(w, "%s key %q (%s backend)\naddress: %s\n", verb, k.Name, k.Backend, k.Address)
	})
}

func (g *globals) backendName() string {
	if g.backend == "" {
		return keyring.BackendFile
	}
	return g.backend
}

// --- Vault-managed keys and key rotation ---

type showJSON struct {
	keyJSON
	Vault *vaultKeyJSON `json:"vault,omitempty"`
}

type vaultKeyJSON struct {
	Address        string             `json:"address"`
	Key            string             `json:"key"` // MOUNT/keys/NAME
	SigningVersion int                `json:"signing_version"`
	LatestVersion  int                `json:"latest_version"`
	Versions       []vaultVersionJSON `json:"versions"`
}

type vaultVersionJSON struct {
	Version int    `json:"version"`
	PubKey  string `json:"pub_key"`
	Address string `json:"address"`
}

// vaultKeyJSONOf describes a transit key's versions; nil if it cannot be read.
func vaultKeyJSONOf(v *vault.Client, name string) *vaultKeyJSON {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	k, err := v.ReadKey(ctx, name)
	if err != nil {
		return nil
	}
	out := &vaultKeyJSON{Address: v.Address(), Key: v.TransitMount() + "/keys/" + name, SigningVersion: k.SigningVersion(), LatestVersion: k.LatestVersion}
	for _, ver := range k.Versions() {
		pub := k.PubKey(ver)
		out.Versions = append(out.Versions, vaultVersionJSON{Version: ver, PubKey: hex.EncodeToString(pub), Address: types.Address(pub)})
	}
	return out
}

// openVault connects to Vault with the home's settings (keyring/vault.json)
// and the usual VAULT_* environment (VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT,
// VAULT_NAMESPACE; or an AppRole from DSTT_VAULT_ROLE_ID and
// DSTT_VAULT_SECRET_ID).
func (g *globals) openVault(ctx context.Context) (*vault.Client, error) {
	cfg, err := vault.ConfigForKeyring(keyringDir(g.home))
	if err != nil {
		return nil, err
	}
	return vault.New(ctx, cfg, nil)
}

// addKEK creates an aes256-gcm96 transit key for envelope encryption.
func (g *globals) addKEK(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := g.openVault(ctx)
	if err != nil {
		return err
	}
	defer v.Close()
	k, err := v.CreateKey(ctx, name, vault.TransitKeyAES256)
	if err != nil {
		return err
	}
	out := map[string]any{"name": name, "type": k.Type, "vault": v.Address(), "key": v.TransitMount() + "/keys/" + name}
	return g.print(out, func(w io.Writer) {
		fmt.Fprintf(w, "created key-encryption key %q (%s) in Vault at %s\nuse: dstt tx put KEY VALUE --encrypt --kek %s\n", name, k.Type, v.Address(), name)
	})
}

func newKeysRotateCmd(g *globals) *cobra.Command {
	var finish bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "rotate NAME",
		Short: "Replace a key by a successor; the identity (address, permissions) stays",
		Long: `Rotate the key NAME: make a successor key and submit a RotateKey tx, signed by
the current key, that registers the successor for the same identity. After
the tx's height the chain refuses the old key for that identity; the address
and its permissions stay.

  vault backend:     the transit key gets a new version. Until the tx is
                     committed dstt keeps signing with the old version (Vault's
                     min_encryption_version pins it); then the new version
                     becomes the minimum, so Vault refuses the old one too.
  file/test backend: the successor is generated as NAME.next; once the tx is
                     committed it becomes NAME and the old key is kept as
                     NAME.old-N (N = 1, 2, ...).

If the tx fails or its outcome is unknown, the successor stays pending and
running the command again resumes with the same successor. If the tx was
committed but the command did not see it, --finish completes the local (or
Vault) side without submitting anything.`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error { return g.rotateKey(args[0], finish, timeout) },
	}
	cmd.Flags().BoolVar(&finish, "finish", false, "only complete a rotation whose tx is already committed")
	cmd.Flags().DurationVar(&timeout, "timeout", 60*time.Second, "how long to wait for Vault and the node")
	return cmd
}

type rotateJSON struct {
	Name      string `json:"name"`
	Backend   string `json:"backend"`
	OldPubKey string `json:"old_pub_key,omitempty"`
	NewPubKey string `json:"new_pub_key"`
	Hash      string `json:"hash,omitempty"`
	Height    int64  `json:"height,omitempty"`
	Kept      string `json:"old_key_kept_as,omitempty"`
	Resumed   bool   `json:"resumed,omitempty"`
	Identity  string `json:"identity,omitempty"` // from the chain's /identity query
	Keys      int    `json:"identity_keys,omitempty"`
}

// rotateKey runs the rotation protocol: the keyring (or Vault) prepares
// the successor, the node commits the RotateKey tx, then the local side
// finishes.
func (g *globals) rotateKey(name string, finishOnly bool, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	r, err := g.beginRotation(ctx, name, finishOnly)
	if err != nil {
		return err
	}
	out := rotateJSON{Name: name, Backend: g.backendName(), NewPubKey: hex.EncodeToString(r.NewPubKey), Resumed: r.Resumed}
	c, err := g.newClient()
	if err != nil {
		return err
	}
	defer c.Close()
	if !finishOnly {
		out.OldPubKey = hex.EncodeToString(r.Old.PubKey())
		c.SetReader(r.Old) // once the rotation is committed, the client reads as r.Next
		res, err := c.RotateKey(ctx, r.Old, r.Next)
		if err != nil {
			return rotateError(name, err)
		}
		out.Hash, out.Height = res.Hash, res.Height
	}
	if out.Kept, err = r.Finish(ctx); err != nil {
		return fmt.Errorf("keys rotate: the RotateKey tx is committed, but finishing locally failed: %w (retry: dstt keys rotate %s --finish)", err, name)
	}
	return g.finishIdentity(ctx, c, r, out)
}

// finishIdentity records which identity the rotated key acts for: the old
// key's, as this home knows it, then the chain's answer (the authority),
// read with the new key itself. Without an answer the rotation still
// succeeded: a warning says how to record the identity later.
func (g *globals) finishIdentity(ctx context.Context, c *client.Client, r *keyring.Rotation, out rotateJSON) error {
	newAddr := types.Address(r.NewPubKey)
	id := types.IdentityView{}
	if r.Old != nil {
		ids, err := loadIdentities(g.home)
		if err != nil {
			return err
		}
		oldAddr := types.Address(r.Old.PubKey())
		id.Identity = identityOf(ids, oldAddr)
		id.Keys = []types.IdentityKey{{Address: oldAddr}, {Address: newAddr}}
	}
	if r.Next == nil { // only finishing: the new key is NAME now
		if s, err := g.signerFor(out.Name, "the rotated key, which signs the identity read"); err == nil && s != nil {
			c.SetReader(s)
		}
	}
	if chain, err := c.Identity(ctx, newAddr); err == nil {
		id = chain
	} else {
		fmt.Fprintf(g.stderr, "warning: the rotation is done, but the node did not say which identity key %q acts for: %v (record it later: dstt keys history %s)\n", out.Name, err, out.Name)
	}
	out.Identity, out.Keys = id.Identity, len(id.Keys)
	if err := recordIdentity(g.home, id); err != nil {
		return fmt.Errorf("keys rotate: the rotation is done, but recording its identity in %s failed: %w", identitiesPath(g.home), err)
	}
	return g.print(out, out.text)
}

func (g *globals) beginRotation(ctx context.Context, name string, finishOnly bool) (*keyring.Rotation, error) {
	kr, err := g.openKeyring()
	if err != nil {
		return nil, err
	}
	if v := vault.ClientOf(kr); v != nil {
		return v.KeyringRotation(ctx, name, finishOnly)
	}
	if b := g.backendName(); b != keyring.BackendFile && b != keyring.BackendTest {
		return nil, fmt.Errorf("keys rotate: the %s keyring does not persist keys; use the file, test or vault backend", b)
	}
	r, err := keyring.BeginRotation(kr, name, finishOnly)
	if err != nil {
		return nil, fmt.Errorf("keys rotate: %w (the %s keyring; list its keys: dstt keys list)", err, g.backendName())
	}
	return r, nil
}

// rotateError says what a failed RotateKey submission left behind.
func rotateError(name string, err error) error {
	var txErr *client.TxError
	switch {
	case errors.As(err, &txErr) && txErr.Code == types.CodeInvalidOp:
		return fmt.Errorf("keys rotate: the node refused the RotateKey tx (%w); if it does not support key rotation yet, nothing changed on chain and the successor stays pending", err)
	case errors.As(err, &txErr) && txErr.Code == types.CodeKeyRetired:
		return fmt.Errorf("keys rotate: %w: the current key of %q is already retired on chain; if an earlier rotation of this key was committed, finish it with: dstt keys rotate %s --finish", err, name, name)
	case errors.As(err, &txErr):
		return fmt.Errorf("keys rotate: %w (nothing changed; the successor stays pending: run the command again to retry)", err)
	}
	return fmt.Errorf("keys rotate: %w; its outcome is unknown: check with dstt query tx HASH, then run dstt keys rotate %s again (if it failed) or with --finish (if it is committed)", err, name)
}

func (out rotateJSON) text(w io.Writer) {
	if out.Hash != "" {
		fmt.Fprintf(w, "rotated key %q: RotateKey tx %s committed at height %d\n", out.Name, out.Hash, out.Height)
	} else {
		fmt.Fprintf(w, "finished the rotation of key %q\n", out.Name)
	}
	fmt.Fprintf(w, "new public key: %s (the identity's address and permissions stay)\n", out.NewPubKey)
	if out.Identity != "" {
		fmt.Fprintf(w, "identity:       %s (%d keys in its history: dstt keys rotate never changes it)\n", out.Identity, out.Keys)
	}
	if out.Kept != "" {
		fmt.Fprintf(w, "old key kept as %s (the chain refuses it from now on)\n", out.Kept)
	}
}

func newKeysImportCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "import NAME FILE",
		Short: "Store an existing ed25519 private key (hex, from FILE or - for stdin) under NAME",
		Long: `Store an existing ed25519 key under NAME. FILE ("-" for standard input) holds
the key in hex: its 32-byte seed or the 64-byte private key (seed followed by
public key). The vault backend refuses: create keys in Vault instead.`,
		Args: cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			data, err := readKeyInput(args[1])
			if err != nil {
				return err
			}
			priv, err := parsePrivKey(data)
			clear(data)
			if err != nil {
				return fmt.Errorf("%s: %w", args[1], err)
			}
			defer clear(priv)
			kr, err := g.openKeyring()
			if err != nil {
				return err
			}
			k, err := kr.Import(args[0], priv)
			if err != nil {
				return err
			}
			return g.printNewKey("imported", k)
		},
	}
}

// maxKeyInput bounds what keys import reads: a 64-byte key in hex with
// room for white space around it.
const maxKeyInput = 1024

// readKeyInput reads a key file (or stdin for "-"), refusing more than
// maxKeyInput bytes, which cannot be a key.
func readKeyInput(path string) ([]byte, error) {
	r := io.Reader(os.Stdin)
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxKeyInput+1))
	if err == nil && len(data) > maxKeyInput {
		clear(data)
		err = fmt.Errorf("%s: more than %d bytes: not a hex ed25519 key", path, maxKeyInput)
	}
	return data, err
}

// parsePrivKey reads a hex ed25519 seed (32 bytes) or private key (64),
// refusing a seed of one repeated byte (all zeros, say): no secret. The
// keyring checks that a private key's public half is its seed's.
func parsePrivKey(data []byte) (ed25519.PrivateKey, error) {
	text := bytes.TrimSpace(data)
	b := make([]byte, hex.DecodedLen(len(text)))
	if _, err := hex.Decode(b, text); err != nil {
		clear(b)
		return nil, errors.New("not a hex-encoded ed25519 key")
	}
	if len(b) != ed25519.SeedSize && len(b) != ed25519.PrivateKeySize {
		clear(b)
		return nil, fmt.Errorf("an ed25519 key is %d (seed) or %d bytes, not %d", ed25519.SeedSize, ed25519.PrivateKeySize, len(b))
	}
	if seed := b[:ed25519.SeedSize]; bytes.Count(seed, seed[:1]) == len(seed) {
		clear(b)
		return nil, errors.New("the seed is one byte repeated: not a secret (make one with: openssl rand -hex 32)")
	}
	if len(b) == ed25519.PrivateKeySize {
		return b, nil
	}
	defer clear(b)
	return ed25519.NewKeyFromSeed(b), nil
}

func newKeysDeleteCmd(g *globals) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete NAME --yes",
		Short: "Delete the key NAME from the keyring (irreversible)",
		Long: `Delete the key NAME from the keyring; with the vault backend, the transit key
in Vault (if Vault's key config allows deletion). Nothing on chain changes:
to stop an identity's key from acting, rotate it (dstt keys rotate) or revoke
its grants.`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if !yes {
				return usageErr("deleting key %q cannot be undone: pass --yes", args[0])
			}
			kr, err := g.openKeyring()
			if err != nil {
				return err
			}
			if err := kr.Delete(args[0]); err != nil {
				return fmt.Errorf("%w: %q in the %s keyring (list them: dstt keys list)", err, args[0], g.backendName())
			}
			return g.print(map[string]string{"deleted": args[0], "backend": g.backendName()}, func(w io.Writer) {
				fmt.Fprintf(w, "deleted key %q from the %s keyring\n", args[0], g.backendName())
			})
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm the deletion")
	return cmd
}
