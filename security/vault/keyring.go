package vault

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/security/keyring"
	"github.com/dstt/dstt/types"
)

// vaultKeyring is the "vault" keyring backend: every key is an ed25519
// transit key; private keys never leave Vault.
type vaultKeyring struct {
	v *Client
}

var _ keyring.Keyring = (*vaultKeyring)(nil)

// NewKeyring returns a keyring.Keyring over v's transit engine: Add creates an
// ed25519 transit key, List and Show read them (the public key is the
// signing version's, see TransitKey.SigningVersion), Signer returns a
// TransitSigner, Delete deletes the transit key. Import is not supported
// (create keys in Vault). Transit keys of other types are not listed.
func NewKeyring(v *Client) keyring.Keyring { return &vaultKeyring{v: v} }

func init() { keyring.Register(keyring.BackendVault, openKeyring) }

// openKeyring is keyring.Open's "vault" backend: configuration from
// DIR/vault.json and the environment (ConfigForKeyring).
func openKeyring(dir string, _ keyring.PassphraseFunc) (keyring.Keyring, error) {
	cfg, err := ConfigForKeyring(dir)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.withDefaults().Timeout)
	defer cancel()
	v, err := New(ctx, cfg, nil)
	if err != nil {
		return nil, err
	}
	return NewKeyring(v), nil
}

// ClientOf returns the Vault behind a keyring of the "vault" backend, or
// nil for other backends: for what the keyring.Keyring interface does not cover
// (rotation, key versions).
func ClientOf(k keyring.Keyring) *Client {
	if vk, ok := k.(*vaultKeyring); ok {
		return vk.v
	}
	return nil
}

func (k *vaultKeyring) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 4*k.v.cfg.Timeout)
}

func (k *vaultKeyring) Add(name string) (keyring.KeyInfo, error) {
	if err := keyring.ValidateName(name); err != nil {
		return keyring.KeyInfo{}, err
	}
	ctx, cancel := k.ctx()
	defer cancel()
	tk, err := k.v.CreateKey(ctx, name, TransitKeyEd25519)
	if err != nil {
		return keyring.KeyInfo{}, err
	}
	return k.info(tk)
}

func (k *vaultKeyring) Import(name string, _ ed25519.PrivateKey) (keyring.KeyInfo, error) {
	if err := keyring.ValidateName(name); err != nil {
		return keyring.KeyInfo{}, err
	}
	return keyring.KeyInfo{}, fmt.Errorf("%w: the vault keyring cannot import private keys; create the key in Vault (dstt keys add %s --keyring-backend vault)",
		errors.ErrUnsupported, name)
}

func (k *vaultKeyring) List() ([]keyring.KeyInfo, error) {
	ctx, cancel := k.ctx()
	defer cancel()
	names, err := k.v.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := []keyring.KeyInfo{}
	for _, n := range names {
		if keyring.ValidateName(n) != nil {
			continue
		}
		tk, err := k.v.ReadKey(ctx, n)
		if errors.Is(err, ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		if tk.Type != TransitKeyEd25519 {
			continue
		}
		info, err := k.info(tk)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

func (k *vaultKeyring) Show(name string) (keyring.KeyInfo, error) {
	tk, err := k.read(name)
	if err != nil {
		return keyring.KeyInfo{}, err
	}
	return k.info(tk)
}

func (k *vaultKeyring) Signer(name string) (security.Signer, error) {
	if _, err := k.read(name); err != nil {
		return nil, err
	}
	ctx, cancel := k.ctx()
	defer cancel()
	return k.v.Signer(ctx, name, 0)
}

func (k *vaultKeyring) Delete(name string) error {
	if _, err := k.read(name); err != nil {
		return err
	}
	ctx, cancel := k.ctx()
	defer cancel()
	return k.v.DeleteKey(ctx, name)
}

// read reads an ed25519 transit key; a missing one is keyring.ErrKeyNotFound (and
// ErrNotFound).
// Rename is not supported: a transit key's name is its Vault path.
func (k *vaultKeyring) Rename(from, _ string) error {
	return fmt.Errorf("vault: keyring: transit key %q cannot be renamed: %w", from, errors.ErrUnsupported)
}

func (k *vaultKeyring) read(name string) (TransitKey, error) {
	if err := keyring.ValidateName(name); err != nil {
		return TransitKey{}, err
	}
	ctx, cancel := k.ctx()
	defer cancel()
	tk, err := k.v.ReadKey(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return tk, fmt.Errorf("%w: %w", keyring.ErrKeyNotFound, err)
	}
	if err != nil {
		return tk, err
	}
	if tk.Type != TransitKeyEd25519 {
		return tk, fmt.Errorf("%w: %q is %s, a keyring key is %s", ErrKeyType, name, tk.Type, TransitKeyEd25519)
	}
	return tk, nil
}

func (k *vaultKeyring) info(tk TransitKey) (keyring.KeyInfo, error) {
	pub := tk.PubKey(tk.SigningVersion())
	if pub == nil {
		return keyring.KeyInfo{}, fmt.Errorf("%w: key %q: no public key for its signing version %d", ErrResponse, tk.Name, tk.SigningVersion())
	}
	return keyring.KeyInfo{Name: tk.Name, Address: types.Address(pub), PubKey: pub, Backend: keyring.BackendVault}, nil
}
