package keyring

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/types"
)

// keyFileExt ends every key file's name: DIR/NAME.key.
const keyFileExt = ".key"

// keyCodec turns a private key into key file bytes and back. The file and
// test backends differ only in their codec.
type keyCodec interface {
	// seal encodes priv as a new key file.
	seal(priv ed25519.PrivateKey) ([]byte, error)
	// pubKey reads the public key, which every key file keeps in clear,
	// checking it against the address stored beside it.
	pubKey(data []byte) ([]byte, error)
	// open recovers the private key; the caller wipes it.
	open(data []byte) (ed25519.PrivateKey, error)
}

// dirKeyring keeps one file per key in a directory. Writes are atomic
// (a temporary file hard-linked into place), so concurrent users, even in
// other processes, never see half a key file or overwrite each other.
type dirKeyring struct {
	dir     string
	backend string
	codec   keyCodec
}

var _ Keyring = (*dirKeyring)(nil)

func openDirKeyring(dir, backend string, codec keyCodec) (*dirKeyring, error) {
	if dir == "" {
		return nil, fmt.Errorf("keyring: %s keyring: empty directory", backend)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keyring: %s keyring: %w", backend, err)
	}
	return &dirKeyring{dir: dir, backend: backend, codec: codec}, nil
}

func (k *dirKeyring) path(name string) string {
	return filepath.Join(k.dir, name+keyFileExt)
}

func (k *dirKeyring) Add(name string) (KeyInfo, error) {
	if err := ValidateName(name); err != nil {
		return KeyInfo{}, err
	}
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return KeyInfo{}, fmt.Errorf("keyring: generate key: %w", err)
	}
	defer clear(priv)
	return k.Import(name, priv)
}

func (k *dirKeyring) Import(name string, priv ed25519.PrivateKey) (KeyInfo, error) {
	if err := ValidateName(name); err != nil {
		return KeyInfo{}, err
	}
	if err := security.CheckPrivKey(priv); err != nil {
		return KeyInfo{}, err
	}
	// Fail before asking for a passphrase if the name is taken; the link
	// in writeNew settles any race.
	if _, err := os.Lstat(k.path(name)); err == nil {
		return KeyInfo{}, fmt.Errorf("%w: %q", ErrKeyExists, name)
	}
	data, err := k.codec.seal(priv)
	if err != nil {
		return KeyInfo{}, fmt.Errorf("%w: key %q", err, name)
	}
	if err := k.writeNew(name, data); err != nil {
		return KeyInfo{}, err
	}
	return k.info(name, priv[security.SeedSize:]), nil
}

// writeNew writes data to a temporary file and hard-links it to name's
// path, which fails if that path exists.
func (k *dirKeyring) writeNew(name string, data []byte) (err error) {
	tmp, err := os.CreateTemp(k.dir, ".tmp-*.partial") // mode 0600
	if err != nil {
		return fmt.Errorf("keyring: write key %q: %w", name, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		tmp.Close()
		return fmt.Errorf("keyring: write key %q: %w", name, err)
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("keyring: write key %q: %w", name, err)
	}
	if err := os.Link(tmp.Name(), k.path(name)); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: %q", ErrKeyExists, name)
		}
		return fmt.Errorf("keyring: write key %q: %w", name, err)
	}
	syncDir(k.dir)
	return nil
}

// syncDir makes a new directory entry durable, where the OS allows it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

func (k *dirKeyring) read(name string) ([]byte, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(k.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %q", ErrKeyNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("keyring: read key %q: %w", name, err)
	}
	return data, nil
}

func (k *dirKeyring) Show(name string) (KeyInfo, error) {
	data, err := k.read(name)
	if err != nil {
		return KeyInfo{}, err
	}
	pub, err := k.codec.pubKey(data)
	if err != nil {
		return KeyInfo{}, fmt.Errorf("%w: key %q", err, name)
	}
	return k.info(name, pub), nil
}

func (k *dirKeyring) List() ([]KeyInfo, error) {
	entries, err := os.ReadDir(k.dir)
	if err != nil {
		return nil, fmt.Errorf("keyring: list keys: %w", err)
	}
	out := []KeyInfo{}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), keyFileExt)
		if !ok || !e.Type().IsRegular() || ValidateName(name) != nil {
			continue
		}
		info, err := k.Show(name)
		if errors.Is(err, ErrKeyNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b KeyInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (k *dirKeyring) Signer(name string) (security.Signer, error) {
	data, err := k.read(name)
	if err != nil {
		return nil, err
	}
	pub, err := k.codec.pubKey(data)
	if err != nil {
		return nil, fmt.Errorf("%w: key %q", err, name)
	}
	priv, err := k.codec.open(data)
	if err != nil {
		return nil, fmt.Errorf("%w: key %q", err, name)
	}
	defer clear(priv)
	if security.CheckPrivKey(priv) != nil || !bytes.Equal(priv[security.SeedSize:], pub) {
		return nil, fmt.Errorf("%w: key %q", ErrBadKeyFile, name)
	}
	return security.NewLocalSigner(priv), nil
}

func (k *dirKeyring) Delete(name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	err := os.Remove(k.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %q", ErrKeyNotFound, name)
	}
	if err != nil {
		return fmt.Errorf("keyring: delete key %q: %w", name, err)
	}
	syncDir(k.dir)
	return nil
}

// Rename hard-links from's file to to's name, then removes from's: at no
// point is the key missing, and a crash in between leaves both names with
// the same key, which a second Rename resolves.
func (k *dirKeyring) Rename(from, to string) error {
	if err := ValidateName(to); err != nil {
		return err
	}
	data, err := k.read(from)
	if err != nil {
		return err
	}
	err = os.Link(k.path(from), k.path(to))
	if errors.Is(err, fs.ErrExist) {
		if held, rerr := k.read(to); rerr != nil || !bytes.Equal(held, data) {
			return fmt.Errorf("%w: %q", ErrKeyExists, to)
		}
	} else if err != nil {
		return fmt.Errorf("keyring: rename key %q to %q: %w", from, to, err)
	}
	if err := os.Remove(k.path(from)); err != nil {
		return fmt.Errorf("keyring: rename key %q to %q: %w", from, to, err)
	}
	syncDir(k.dir)
	return nil
}

func (k *dirKeyring) info(name string, pub []byte) KeyInfo {
	pub = slices.Clone(pub)
	return KeyInfo{Name: name, Address: types.Address(pub), PubKey: pub, Backend: k.backend}
}

// checkPubKey is the clear-text check shared by the codecs: a 32-byte key
// whose address matches the one recorded beside it.
func checkPubKey(pub []byte, address string) error {
	if len(pub) != security.PubKeySize || types.Address(pub) != address {
		return ErrBadKeyFile
	}
	return nil
}
