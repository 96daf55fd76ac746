package keyring

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/dstt/dstt/security"
)

// Keyring stores named ed25519 keys and hands out Signers for them.
// Implementations: the encrypted "file" backend, the unencrypted "test"
// backend and the in-memory "memory" twin; Open picks one.
//
// Every method is safe for concurrent use within one process. Errors
// never carry key material or passphrases.
type Keyring interface {
	// Add generates a key under name. ErrBadName if name is invalid,
	// ErrKeyExists if it is taken.
	Add(name string) (KeyInfo, error)
	// Import stores priv (a 64-byte crypto/ed25519 key) under name.
	// security.ErrBadKey if priv is malformed; otherwise as Add.
	Import(name string, priv ed25519.PrivateKey) (KeyInfo, error)
	// List returns every key, sorted by name. It needs no passphrase.
	List() ([]KeyInfo, error)
	// Show returns one key's public information. It needs no passphrase.
	// ErrKeyNotFound if there is no such key.
	Show(name string) (KeyInfo, error)
	// Signer returns a signer for the key; the file backend asks for the
	// passphrase (ErrBadPassphrase when decryption fails).
	Signer(name string) (security.Signer, error)
	// Delete removes the key. ErrKeyNotFound if there is no such key.
	Delete(name string) error
	// Rename moves the key from to the name to, which must be free
	// (ErrKeyExists; ErrKeyNotFound if from is missing). When to already
	// holds the same key, Rename completes an interrupted rename of from
	// to to. A backend that cannot rename (vault) returns an error wrapping
	// errors.ErrUnsupported.
	Rename(from, to string) error
}

// KeyInfo is the public information about a stored key.
type KeyInfo struct {
	Name    string
	Address string // types.Address(PubKey)
	PubKey  []byte // 32 bytes
	Backend string // "file", "test" or "memory"
}

// PassphraseFunc supplies a keyring passphrase. confirm is true when a new
// key is being encrypted, so an interactive source should ask twice. The
// keyring wipes the returned slice after use.
type PassphraseFunc func(confirm bool) ([]byte, error)

// Keyring backends accepted by Open.
const (
	// BackendFile keeps each key encrypted at rest (argon2id +
	// XChaCha20-Poly1305) in DIR/NAME.key. The default.
	BackendFile = "file"
	// BackendTest keeps each key UNENCRYPTED in DIR/test/NAME.key. Only
	// for tests and the single-process dev node; never for real keys.
	BackendTest = "test"
	// BackendMemory keeps keys in process memory only.
	BackendMemory = "memory"
	// BackendVault keeps keys in Vault's transit engine. Package
	// security/vault provides it: a program that imports that package
	// has it registered (Register).
	BackendVault = "vault"
)

// Keyring errors.
var (
	ErrKeyNotFound     = errors.New("keyring: key not found")
	ErrKeyExists       = errors.New("keyring: a key with this name already exists")
	ErrBadPassphrase   = errors.New("keyring: wrong passphrase or corrupted key file")
	ErrBadName         = errors.New("keyring: bad key name (want 1-64 characters of A-Z a-z 0-9 . _ -)")
	ErrUnknownBackend  = errors.New("keyring: unknown keyring backend (built in: file, test, memory; vault when the program links security/vault)")
	ErrBadKeyFile      = errors.New("keyring: malformed key file")
	ErrEmptyPassphrase = errors.New("keyring: empty passphrase")
	ErrNoPassphrase    = errors.New("keyring: the file keyring needs a passphrase source")
)

// Open opens the keyring of the given backend ("" means "file").
// dir is the keyring directory, created with mode 0700 if missing; the
// memory backend ignores it. passphrase is required by the file backend
// and ignored by the others.
func Open(backend, dir string, passphrase PassphraseFunc) (Keyring, error) {
	switch backend {
	case "", BackendFile:
		return openFileKeyring(dir, passphrase, defaultKDF)
	case BackendTest:
		return openTestKeyring(filepath.Join(dir, "test"))
	case BackendMemory:
		return NewInMemory(), nil
	}
	backendsMu.RLock()
	open, ok := backends[backend]
	backendsMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownBackend, backend)
	}
	return open(dir, passphrase)
}

// Opener opens a keyring of a registered backend over dir.
type Opener func(dir string, passphrase PassphraseFunc) (Keyring, error)

var (
	backendsMu sync.RWMutex
	backends   = map[string]Opener{}
)

// Register makes backend available to Open, the way
// database/sql drivers register: a backend with heavy dependencies (Vault)
// lives in its own package and registers itself from init, so programs
// that do not import it do not link it. It panics if backend is taken or
// is one of the built-in names.
func Register(backend string, open Opener) {
	backendsMu.Lock()
	defer backendsMu.Unlock()
	switch backend {
	case "", BackendFile, BackendTest, BackendMemory:
		panic("keyring: keyring backend " + backend + " is built in")
	}
	if _, dup := backends[backend]; dup || open == nil {
		panic("keyring: keyring backend " + backend + " registered twice or with no opener")
	}
	backends[backend] = open
}

// ValidateName returns ErrBadName unless name is 1-64 characters of
// A-Z, a-z, 0-9, '.', '_' and '-'. A valid name is also a safe file name.
func ValidateName(name string) error {
	if len(name) < 1 || len(name) > 64 {
		return fmt.Errorf("%w: length %d", ErrBadName, len(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '_', c == '-':
		default:
			return fmt.Errorf("%w: %q", ErrBadName, name)
		}
	}
	return nil
}
