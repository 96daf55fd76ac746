package keyring

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/types"
)

// memoryKeyring is the in-memory twin of the file keyring: same contract,
// nothing persisted.
type memoryKeyring struct {
	mu   sync.Mutex
	keys map[string]ed25519.PrivateKey
}

var _ Keyring = (*memoryKeyring)(nil)

// NewInMemory returns an empty keyring that lives only in memory.
func NewInMemory() Keyring {
	return &memoryKeyring{keys: make(map[string]ed25519.PrivateKey)}
}

func (k *memoryKeyring) Add(name string) (KeyInfo, error) {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return KeyInfo{}, fmt.Errorf("keyring: generate key: %w", err)
	}
	defer clear(priv)
	return k.Import(name, priv)
}

func (k *memoryKeyring) Import(name string, priv ed25519.PrivateKey) (KeyInfo, error) {
	if err := ValidateName(name); err != nil {
		return KeyInfo{}, err
	}
	if err := security.CheckPrivKey(priv); err != nil {
		return KeyInfo{}, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.keys[name]; ok {
		return KeyInfo{}, fmt.Errorf("%w: %q", ErrKeyExists, name)
	}
	k.keys[name] = slices.Clone(priv)
	return memoryInfo(name, priv), nil
}

func (k *memoryKeyring) List() ([]KeyInfo, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]KeyInfo, 0, len(k.keys))
	for _, name := range slices.Sorted(maps.Keys(k.keys)) {
		out = append(out, memoryInfo(name, k.keys[name]))
	}
	return out, nil
}

func (k *memoryKeyring) Show(name string) (KeyInfo, error) {
	priv, err := k.get(name)
	if err != nil {
		return KeyInfo{}, err
	}
	defer clear(priv)
	return memoryInfo(name, priv), nil
}

func (k *memoryKeyring) Signer(name string) (security.Signer, error) {
	priv, err := k.get(name)
	if err != nil {
		return nil, err
	}
	defer clear(priv)
	return security.NewLocalSigner(priv), nil
}

func (k *memoryKeyring) Delete(name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	priv, ok := k.keys[name]
	if !ok {
		return fmt.Errorf("%w: %q", ErrKeyNotFound, name)
	}
	clear(priv)
	delete(k.keys, name)
	return nil
}

// get returns a copy of the named key; the caller wipes it.
func (k *memoryKeyring) Rename(from, to string) error {
	if err := ValidateName(from); err != nil {
		return err
	}
	if err := ValidateName(to); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	priv, ok := k.keys[from]
	if !ok {
		return fmt.Errorf("%w: %q", ErrKeyNotFound, from)
	}
	if held, taken := k.keys[to]; taken && !bytes.Equal(held, priv) {
		return fmt.Errorf("%w: %q", ErrKeyExists, to)
	}
	k.keys[to] = priv
	delete(k.keys, from)
	return nil
}

func (k *memoryKeyring) get(name string) (ed25519.PrivateKey, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	priv, ok := k.keys[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrKeyNotFound, name)
	}
	return slices.Clone(priv), nil
}

func memoryInfo(name string, priv ed25519.PrivateKey) KeyInfo {
	pub := slices.Clone(priv[security.SeedSize:])
	return KeyInfo{Name: name, Address: types.Address(pub), PubKey: pub, Backend: BackendMemory}
}
