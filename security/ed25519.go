package security

import (
	"crypto/ed25519"
	"errors"
)

// Sizes of ed25519 keys and signatures, in bytes.
const (
	PubKeySize    = ed25519.PublicKeySize  // 32
	PrivKeySize   = ed25519.PrivateKeySize // 64 (seed followed by public key)
	SeedSize      = ed25519.SeedSize       // 32
	SignatureSize = ed25519.SignatureSize  // 64
)

// ErrBadKey is returned for a private key that is not a well-formed ed25519
// key (wrong length, or a public half that does not match its seed).
var ErrBadKey = errors.New("security: malformed ed25519 private key")

// LocalSigner signs with an ed25519 private key held in process memory.
// It is safe for concurrent use.
type LocalSigner struct {
	priv ed25519.PrivateKey
	pub  []byte
}

var _ Signer = (*LocalSigner)(nil)

// GenerateKey returns a signer for a fresh key from crypto/rand.
func GenerateKey() (*LocalSigner, error) {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	return NewLocalSigner(priv), nil
}

// NewLocalSigner returns a signer for priv, which it copies. priv must be a
// 64-byte key as made by crypto/ed25519 (GenerateKey, NewKeyFromSeed);
// anything else is a programming error and NewLocalSigner panics. Use
// CheckPrivKey first on keys from outside the process.
func NewLocalSigner(priv ed25519.PrivateKey) *LocalSigner {
	if err := CheckPrivKey(priv); err != nil {
		panic(err)
	}
	p := make(ed25519.PrivateKey, PrivKeySize)
	copy(p, priv)
	return &LocalSigner{priv: p, pub: []byte(p.Public().(ed25519.PublicKey))}
}

// CheckPrivKey reports ErrBadKey unless priv is 64 bytes whose second half
// is the public key of its first half (the seed).
func CheckPrivKey(priv ed25519.PrivateKey) error {
	if len(priv) != PrivKeySize {
		return ErrBadKey
	}
	derived := ed25519.NewKeyFromSeed(priv.Seed())
	defer clear(derived)
	if !derived.Equal(priv) {
		return ErrBadKey
	}
	return nil
}

// PubKey returns a copy of the 32-byte public key.
func (s *LocalSigner) PubKey() []byte { return append([]byte(nil), s.pub...) }

// Sign returns the 64-byte ed25519 signature of msg. It never fails.
func (s *LocalSigner) Sign(msg []byte) ([]byte, error) {
	return ed25519.Sign(s.priv, msg), nil
}
