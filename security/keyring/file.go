package keyring

import (
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/types"
)

// Key file format of the file backend, version 1. JSON, mode 0600:
//
//	{
//	  "version": 1,
//	  "type": "ed25519",
//	  "address": "<40 hex>",          // clear, so List and Show need no passphrase
//	  "pub_key": "<base64, 32 bytes>",
//	  "kdf": {"name": "argon2id", "time": 3, "memory_kib": 65536, "threads": 4},
//	  "salt": "<base64, 16 bytes>",   // fresh per key
//	  "cipher": "xchacha20-poly1305",
//	  "nonce": "<base64, 24 bytes>",  // fresh per key
//	  "ciphertext": "<base64>"        // the 32-byte seed, sealed
//	}
//
// The key is argon2id(passphrase, salt, kdf params); the associated data
// binds version, type, kdf params, salt, cipher and public key, so editing
// any of them makes decryption fail like a wrong passphrase would.
const (
	fileKeyVersion = 1
	kdfArgon2id    = "argon2id"
	cipherXChaCha  = "xchacha20-poly1305"
	keyTypeEd25519 = "ed25519"
	saltSize       = 16
)

type encryptedKeyFile struct {
	Version    int         `json:"version"`
	Type       string      `json:"type"`
	Address    string      `json:"address"`
	PubKey     []byte      `json:"pub_key"`
	KDF        argon2Param `json:"kdf"`
	Salt       []byte      `json:"salt"`
	Cipher     string      `json:"cipher"`
	Nonce      []byte      `json:"nonce"`
	Ciphertext []byte      `json:"ciphertext"`
}

// argon2Param is an argon2id cost setting, stored in each key file.
type argon2Param struct {
	Name      string `json:"name"`
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
}

// defaultKDF follows RFC 9106's second recommended option (t=3, 64 MiB,
// p=4): a few hundred milliseconds per unlock on a small server.
var defaultKDF = argon2Param{Name: kdfArgon2id, Time: 3, MemoryKiB: 64 << 10, Threads: 4}

// valid bounds what a key file may ask of the KDF, so a crafted file cannot
// make an unlock take gigabytes or minutes.
func (p argon2Param) valid() bool {
	return p.Name == kdfArgon2id &&
		p.Time >= 1 && p.Time <= 64 &&
		p.Threads >= 1 && p.Threads <= 64 &&
		p.MemoryKiB >= 8*uint32(p.Threads) && p.MemoryKiB <= 1<<20 // 1 GiB
}

// encryptedCodec seals keys with a passphrase-derived key.
type encryptedCodec struct {
	passphrase PassphraseFunc
	kdf        argon2Param
}

var _ keyCodec = (*encryptedCodec)(nil)

func openFileKeyring(dir string, passphrase PassphraseFunc, kdf argon2Param) (*dirKeyring, error) {
	if passphrase == nil {
		return nil, ErrNoPassphrase
	}
	if !kdf.valid() {
		return nil, fmt.Errorf("keyring: bad argon2id parameters %+v", kdf)
	}
	return openDirKeyring(dir, BackendFile, &encryptedCodec{passphrase: passphrase, kdf: kdf})
}

func (c *encryptedCodec) seal(priv ed25519.PrivateKey) ([]byte, error) {
	pub := priv[security.SeedSize:]
	f := encryptedKeyFile{
		Version: fileKeyVersion,
		Type:    keyTypeEd25519,
		Address: types.Address(pub),
		PubKey:  pub,
		KDF:     c.kdf,
		Salt:    make([]byte, saltSize),
		Cipher:  cipherXChaCha,
		Nonce:   make([]byte, chacha20poly1305.NonceSizeX),
	}
	rand.Read(f.Salt)
	rand.Read(f.Nonce)
	pass, err := c.ask(true)
	if err != nil {
		return nil, err
	}
	defer clear(pass)
	if len(pass) == 0 {
		return nil, ErrEmptyPassphrase
	}
	aead := f.aead(pass)
	f.Ciphertext = aead.Seal(nil, f.Nonce, priv.Seed(), f.associatedData())
	return json.MarshalIndent(&f, "", "  ")
}

func (c *encryptedCodec) pubKey(data []byte) ([]byte, error) {
	f, err := decodeEncryptedKeyFile(data)
	if err != nil {
		return nil, err
	}
	return f.PubKey, nil
}

func (c *encryptedCodec) open(data []byte) (ed25519.PrivateKey, error) {
	f, err := decodeEncryptedKeyFile(data)
	if err != nil {
		return nil, err
	}
	pass, err := c.ask(false)
	if err != nil {
		return nil, err
	}
	defer clear(pass)
	seed, err := f.aead(pass).Open(nil, f.Nonce, f.Ciphertext, f.associatedData())
	if err != nil || len(seed) != security.SeedSize {
		return nil, ErrBadPassphrase
	}
	defer clear(seed)
	return ed25519.NewKeyFromSeed(seed), nil
}

func (c *encryptedCodec) ask(confirm bool) ([]byte, error) {
	pass, err := c.passphrase(confirm)
	if err != nil {
		clear(pass)
		return nil, fmt.Errorf("keyring: read passphrase: %w", err)
	}
	return pass, nil
}

// decodeEncryptedKeyFile parses a key file and checks everything that can
// be checked without the passphrase.
func decodeEncryptedKeyFile(data []byte) (*encryptedKeyFile, error) {
	var f encryptedKeyFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, ErrBadKeyFile
	}
	if f.Version != fileKeyVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrBadKeyFile, f.Version, fileKeyVersion)
	}
	if f.Type != keyTypeEd25519 || f.Cipher != cipherXChaCha || !f.KDF.valid() ||
		len(f.Salt) < saltSize || len(f.Salt) > 64 ||
		len(f.Nonce) != chacha20poly1305.NonceSizeX ||
		len(f.Ciphertext) != security.SeedSize+chacha20poly1305.Overhead {
		return nil, ErrBadKeyFile
	}
	if err := checkPubKey(f.PubKey, f.Address); err != nil {
		return nil, err
	}
	return &f, nil
}

// aead derives the file's key from pass and wipes it once the cipher is
// keyed (chacha20poly1305 copies the key).
func (f *encryptedKeyFile) aead(pass []byte) cipher.AEAD {
	key := argon2.IDKey(pass, f.Salt, f.KDF.Time, f.KDF.MemoryKiB, f.KDF.Threads, chacha20poly1305.KeySize)
	defer clear(key)
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		panic(err) // the key is always KeySize bytes
	}
	return aead
}

// associatedData binds every clear field that matters to the ciphertext.
func (f *encryptedKeyFile) associatedData() []byte {
	return fmt.Appendf(nil, "dstt/keyring/v%d\x00%s\x00%s\x00t=%d,m=%d,p=%d\x00%x\x00%s\x00%x",
		f.Version, f.Type, f.KDF.Name, f.KDF.Time, f.KDF.MemoryKiB, f.KDF.Threads,
		f.Salt, f.Cipher, f.PubKey)
}
