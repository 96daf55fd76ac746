package vault

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/dstt/dstt/security/keyring"
)

// Envelope encryption of confidential values. A value is encrypted with a
// fresh 256-bit data key (AES-256-GCM); the data key is wrapped by a key
// encryption key (KEK) that never leaves Vault. What goes on chain is the
// envelope: the wrapped data key, the nonce and the ciphertext. Validators
// only ever see that; a reader needs Vault to unwrap the data key, so
// Vault's policies decide who can read.
//
// Encoding (JSON, so `dstt query get` without --decrypt shows what it is):
//
//	{"dstt_envelope": 1, "alg": "A256GCM", "kek": "NAME",
//	 "wrapped_key": "vault:v1:...", "nonce": "<base64, 12 bytes>",
//	 "ciphertext": "<base64: ciphertext and 16-byte tag>"}
//
// The GCM associated data binds the envelope version, the ledger key the
// value is stored under, the KEK name and the wrapped key, so an envelope
// copied under another ledger key, or with its wrapped key swapped, does not
// open.

// EnvelopeVersion is the envelope format version SealEnvelope writes.
const EnvelopeVersion = 1

const (
	envelopeAlg    = "A256GCM"
	envelopeAAD    = "dstt/envelope/v1\x00"
	dataKeySize    = 32
	maxEnvelopeLen = 1 << 24
)

// Envelope errors.
var (
	// ErrNotEnvelope: the bytes are not an envelope (a plain value).
	ErrNotEnvelope = errors.New("vault: value is not an encrypted envelope")
	// ErrBadEnvelope: an envelope that is malformed, of an unknown version,
	// or does not open (tampered, or stored under another key).
	ErrBadEnvelope = errors.New("vault: malformed or tampered envelope")
)

// KeyWrapper makes and unwraps data keys under named KEKs. TransitKeyWrapper
// does it with Vault transit; NewInMemoryKeyWrapper is the in-memory twin.
type KeyWrapper interface {
	// NewDataKey returns a fresh 32-byte data key and its wrapped form.
	// The caller wipes the key after use.
	NewDataKey(ctx context.Context, kek string) (key []byte, wrapped string, err error)
	// UnwrapDataKey returns the data key inside wrapped.
	UnwrapDataKey(ctx context.Context, kek, wrapped string) ([]byte, error)
}

// Envelope is a decoded envelope.
type Envelope struct {
	Version    int    `json:"dstt_envelope"`
	Alg        string `json:"alg"`
	KEK        string `json:"kek"`
	WrappedKey string `json:"wrapped_key"`
	Nonce      []byte `json:"nonce"`
	Ciphertext []byte `json:"ciphertext"`
}

// IsEnvelope reports whether value looks like an envelope (it may still be
// malformed: DecodeEnvelope says).
func IsEnvelope(value []byte) bool {
	v := bytes.TrimSpace(value)
	if len(v) < 2 || v[0] != '{' || !bytes.Contains(v, []byte(`"dstt_envelope"`)) {
		return false
	}
	var probe struct {
		Version *int `json:"dstt_envelope"`
	}
	return json.Unmarshal(v, &probe) == nil && probe.Version != nil
}

// DecodeEnvelope parses value. ErrNotEnvelope for a plain value,
// ErrBadEnvelope for a damaged one.
func DecodeEnvelope(value []byte) (*Envelope, error) {
	if !IsEnvelope(value) {
		return nil, ErrNotEnvelope
	}
	if len(value) > maxEnvelopeLen {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadEnvelope, len(value))
	}
	var e Envelope
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadEnvelope, err)
	}
	var problems []string
	if e.Version != EnvelopeVersion {
		problems = append(problems, fmt.Sprintf("version %d (this build reads %d)", e.Version, EnvelopeVersion))
	}
	if e.Alg != envelopeAlg {
		problems = append(problems, fmt.Sprintf("alg %q", e.Alg))
	}
	if keyring.ValidateName(e.KEK) != nil {
		problems = append(problems, fmt.Sprintf("kek %q", e.KEK))
	}
	if e.WrappedKey == "" {
		problems = append(problems, "no wrapped key")
	}
	if len(e.Nonce) != 12 {
		problems = append(problems, fmt.Sprintf("nonce of %d bytes", len(e.Nonce)))
	}
	if len(e.Ciphertext) < 16 {
		problems = append(problems, "ciphertext shorter than its tag")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrBadEnvelope, strings.Join(problems, ", "))
	}
	return &e, nil
}

// Encode returns the envelope's JSON form.
func (e *Envelope) Encode() []byte {
	b, err := json.Marshal(e)
	if err != nil {
		panic(err) // only strings, ints and byte slices
	}
	return b
}

func envelopeAssociatedData(storeKey, kek, wrapped string) []byte {
	var b bytes.Buffer
	b.WriteString(envelopeAAD)
	var n [binary.MaxVarintLen64]byte
	for _, s := range []string{storeKey, kek, wrapped} {
		b.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		b.WriteString(s)
	}
	return b.Bytes()
}

// SealEnvelope encrypts plaintext for storage under the ledger key
// storeKey, with a fresh data key from w under kek, and returns the
// encoded envelope. Nothing is returned on any failure.
func SealEnvelope(ctx context.Context, w KeyWrapper, kek, storeKey string, plaintext []byte) ([]byte, error) {
	if err := keyring.ValidateName(kek); err != nil {
		return nil, err
	}
	key, wrapped, err := w.NewDataKey(ctx, kek)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	if len(key) != dataKeySize {
		return nil, fmt.Errorf("vault: data key of %d bytes, want %d", len(key), dataKeySize)
	}
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("vault: nonce: %w", err)
	}
	e := &Envelope{
		Version: EnvelopeVersion, Alg: envelopeAlg, KEK: kek, WrappedKey: wrapped, Nonce: nonce,
		Ciphertext: gcm.Seal(nil, nonce, plaintext, envelopeAssociatedData(storeKey, kek, wrapped)),
	}
	return e.Encode(), nil
}

// OpenEnvelope decrypts an envelope stored under storeKey, unwrapping its
// data key through w. ErrNotEnvelope for a plain value; ErrBadEnvelope if
// it is damaged, was stored under another key, or its wrapped key was
// swapped; the wrapper's errors (ErrDenied, ...) pass through.
func OpenEnvelope(ctx context.Context, w KeyWrapper, storeKey string, value []byte) ([]byte, error) {
	e, err := DecodeEnvelope(value)
	if err != nil {
		return nil, err
	}
	key, err := w.UnwrapDataKey(ctx, e.KEK, e.WrappedKey)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	if len(key) != dataKeySize {
		return nil, fmt.Errorf("%w: data key of %d bytes", ErrBadEnvelope, len(key))
	}
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	pt, err := gcm.Open(nil, e.Nonce, e.Ciphertext, envelopeAssociatedData(storeKey, e.KEK, e.WrappedKey))
	if err != nil {
		return nil, fmt.Errorf("%w: it does not decrypt under key %q (tampered, or copied from another key)", ErrBadEnvelope, storeKey)
	}
	return pt, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	return cipher.NewGCM(block)
}

// TransitKeyWrapper wraps data keys with Vault transit aes256-gcm96 KEKs:
// datakey/plaintext to seal, decrypt to open.
type TransitKeyWrapper struct{ V *Client }

var _ KeyWrapper = TransitKeyWrapper{}

// NewDataKey implements KeyWrapper.
func (w TransitKeyWrapper) NewDataKey(ctx context.Context, kek string) ([]byte, string, error) {
	return w.V.DataKey(ctx, kek)
}

// UnwrapDataKey implements KeyWrapper.
func (w TransitKeyWrapper) UnwrapDataKey(ctx context.Context, kek, wrapped string) ([]byte, error) {
	return w.V.Decrypt(ctx, kek, wrapped)
}

// inMemoryKeyWrapper is the in-memory twin of TransitKeyWrapper: KEKs are
// AES-256 keys in process memory, created on first use.
type inMemoryKeyWrapper struct {
	mu   sync.Mutex
	keks map[string][]byte
	deny map[string]bool
}

// InMemoryKeyWrapper is a KeyWrapper whose KEKs live in memory. Deny makes
// unwrapping with a KEK fail like a Vault policy denial would.
type InMemoryKeyWrapper interface {
	KeyWrapper
	Deny(kek string)
}

// NewInMemoryKeyWrapper returns an empty in-memory KeyWrapper.
func NewInMemoryKeyWrapper() InMemoryKeyWrapper {
	return &inMemoryKeyWrapper{keks: map[string][]byte{}, deny: map[string]bool{}}
}

func (w *inMemoryKeyWrapper) Deny(kek string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.deny[kek] = true
}

func (w *inMemoryKeyWrapper) kek(name string) (cipher.AEAD, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k, ok := w.keks[name]
	if !ok {
		k = make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return nil, err
		}
		w.keks[name] = k
	}
	return newGCM(k)
}

func (w *inMemoryKeyWrapper) NewDataKey(_ context.Context, kek string) ([]byte, string, error) {
	g, err := w.kek(kek)
	if err != nil {
		return nil, "", err
	}
	key := make([]byte, dataKeySize)
	nonce := make([]byte, g.NonceSize())
	if _, err := rand.Read(key); err != nil {
		return nil, "", err
	}
	if _, err := rand.Read(nonce); err != nil {
		return nil, "", err
	}
	ct := g.Seal(nonce, nonce, key, []byte(kek))
	return key, fmt.Sprintf("mem:v1:%x", ct), nil
}

func (w *inMemoryKeyWrapper) UnwrapDataKey(_ context.Context, kek, wrapped string) ([]byte, error) {
	w.mu.Lock()
	denied := w.deny[kek]
	w.mu.Unlock()
	if denied {
		return nil, fmt.Errorf("%w: decrypt with %q (in-memory wrapper)", ErrDenied, kek)
	}
	g, err := w.kek(kek)
	if err != nil {
		return nil, err
	}
	var ct []byte
	if _, err := fmt.Sscanf(wrapped, "mem:v1:%x", &ct); err != nil || len(ct) < g.NonceSize() {
		return nil, fmt.Errorf("%w: wrapped key", ErrBadEnvelope)
	}
	key, err := g.Open(nil, ct[:g.NonceSize()], ct[g.NonceSize():], []byte(kek))
	if err != nil {
		return nil, fmt.Errorf("%w: wrapped key does not open", ErrBadEnvelope)
	}
	return key, nil
}
