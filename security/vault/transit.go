package vault

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/security/keyring"
	"github.com/dstt/dstt/security/verify"
)

// Transit key types dstt uses.
const (
	// TransitKeyEd25519 signs (client, node audit and validator keys).
	TransitKeyEd25519 = "ed25519"
	// TransitKeyAES256 wraps data keys (envelope encryption KEKs).
	TransitKeyAES256 = "aes256-gcm96"
)

// ErrKeyType is returned when a transit key has the wrong type for
// the use (an AES key asked to sign, say).
var ErrKeyType = errors.New("vault: the Vault transit key has the wrong type")

// TransitKey is what Vault says about a transit key.
type TransitKey struct {
	Name string
	Type string // TransitKeyEd25519, TransitKeyAES256, ...
	// LatestVersion is the newest version (rotation adds one).
	LatestVersion int
	// MinEncryptionVersion is the lowest version Vault lets sign or
	// encrypt; 0 means "the latest only when no version is named".
	// dstt pins it to the version that is the identity's key on chain.
	MinEncryptionVersion int
	// MinDecryptionVersion is the lowest version Vault lets verify or
	// decrypt.
	MinDecryptionVersion int
	// PubKeys holds each version's ed25519 public key (ed25519 keys only;
	// versions Vault no longer returns are absent).
	PubKeys map[int][]byte
}

// SigningVersion is the version dstt signs with: MinEncryptionVersion when
// pinned, else the latest. A later version than this is a rotation in
// progress (see BeginRotation).
func (k TransitKey) SigningVersion() int {
	if k.MinEncryptionVersion > 0 {
		return k.MinEncryptionVersion
	}
	return k.LatestVersion
}

// Versions lists the versions with a known public key, ascending.
func (k TransitKey) Versions() []int { return slices.Sorted(maps.Keys(k.PubKeys)) }

// PubKey returns version's public key, or nil.
func (k TransitKey) PubKey(version int) []byte { return k.PubKeys[version] }

func (v *Client) keyPath(parts ...string) string {
	return v.transit + "/" + strings.Join(parts, "/")
}

// MountTransit enables the transit engine at the configured mount unless
// it is there already. Needs a token allowed to manage sys/mounts
// (operators, tests); clients and nodes never call it.
func (v *Client) MountTransit(ctx context.Context) error {
	path := "sys/mounts/" + v.transit
	_, err := v.client.Logical().WriteWithContext(ctx, path, map[string]any{"type": "transit"})
	if err == nil {
		return nil
	}
	cerr := v.classify("mount transit", path, err)
	if errors.Is(cerr, ErrRequest) && strings.Contains(cerr.Error(), "already in use") {
		return nil
	}
	return cerr
}

// CreateKey creates the transit key name of keyType. keyring.ErrKeyExists if a key
// of that name exists already (Vault itself would silently keep it).
func (v *Client) CreateKey(ctx context.Context, name, keyType string) (TransitKey, error) {
	if err := keyring.ValidateName(name); err != nil {
		return TransitKey{}, err
	}
	if _, err := v.ReadKey(ctx, name); err == nil {
		return TransitKey{}, fmt.Errorf("%w: transit key %q", keyring.ErrKeyExists, name)
	} else if !errors.Is(err, ErrNotFound) {
		return TransitKey{}, err
	}
	path := v.keyPath("keys", name)
	if _, err := v.client.Logical().WriteWithContext(ctx, path, map[string]any{"type": keyType}); err != nil {
		return TransitKey{}, v.classify("create key", path, err)
	}
	return v.ReadKey(ctx, name)
}

// ReadKey reads a transit key's versions and public keys.
// ErrNotFound if there is no such key.
func (v *Client) ReadKey(ctx context.Context, name string) (TransitKey, error) {
	if err := keyring.ValidateName(name); err != nil {
		return TransitKey{}, err
	}
	path := v.keyPath("keys", name)
	s, err := v.client.Logical().ReadWithContext(ctx, path)
	if err != nil {
		return TransitKey{}, v.classify("read key", path, err)
	}
	if s == nil || s.Data == nil {
		return TransitKey{}, fmt.Errorf("%w: transit key %q (at %s/keys/%s in %s)", ErrNotFound, name, v.transit, name, v.cfg.Address)
	}
	return parseTransitKey(name, s.Data)
}

func parseTransitKey(name string, d map[string]any) (TransitKey, error) {
	k := TransitKey{Name: name, PubKeys: map[int][]byte{}}
	k.Type, _ = d["type"].(string)
	var err error
	if k.LatestVersion, err = jsonInt(d["latest_version"]); err != nil {
		return k, fmt.Errorf("%w: key %q latest_version: %v", ErrResponse, name, err)
	}
	k.MinEncryptionVersion, _ = jsonInt(d["min_encryption_version"])
	k.MinDecryptionVersion, _ = jsonInt(d["min_decryption_version"])
	if k.Type != TransitKeyEd25519 {
		return k, nil
	}
	versions, _ := d["keys"].(map[string]any)
	for vs, raw := range versions {
		ver, err := strconv.Atoi(vs)
		if err != nil {
			return k, fmt.Errorf("%w: key %q: version %q", ErrResponse, name, vs)
		}
		m, _ := raw.(map[string]any)
		pubB64, _ := m["public_key"].(string)
		pub, err := base64.StdEncoding.DecodeString(pubB64)
		if err != nil || len(pub) != security.PubKeySize {
			return k, fmt.Errorf("%w: key %q version %d: public key is not 32 bytes of base64", ErrResponse, name, ver)
		}
		k.PubKeys[ver] = pub
	}
	return k, nil
}

func jsonInt(v any) (int, error) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		return int(i), err
	case float64:
		return int(n), nil
	case int:
		return n, nil
	case nil:
		return 0, errors.New("missing")
	}
	return 0, fmt.Errorf("not a number: %T", v)
}

// ListKeys returns the names of all transit keys, sorted.
func (v *Client) ListKeys(ctx context.Context) ([]string, error) {
	path := v.keyPath("keys")
	s, err := v.client.Logical().ListWithContext(ctx, path)
	if err != nil {
		return nil, v.classify("list keys", path, err)
	}
	var names []string
	if s != nil && s.Data != nil {
		raw, _ := s.Data["keys"].([]any)
		for _, r := range raw {
			if n, ok := r.(string); ok {
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	return names, nil
}

// RotateKey adds a new version to the key and returns the key as it is
// afterwards. Prefer BeginRotation for signing keys: it keeps signing with
// the version the chain knows until the rotation is committed.
func (v *Client) RotateKey(ctx context.Context, name string) (TransitKey, error) {
	if err := keyring.ValidateName(name); err != nil {
		return TransitKey{}, err
	}
	path := v.keyPath("keys", name, "rotate")
	if _, err := v.client.Logical().WriteWithContext(ctx, path, nil); err != nil {
		return TransitKey{}, v.classify("rotate key", path, err)
	}
	return v.ReadKey(ctx, name)
}

// SetMinSigningVersion sets the key's min_encryption_version: versions
// below it can no longer sign (nor encrypt) in Vault. 0 unpins.
func (v *Client) SetMinSigningVersion(ctx context.Context, name string, version int) error {
	return v.configureKey(ctx, name, map[string]any{"min_encryption_version": version})
}

// SetMinDecryptionVersion sets the key's min_decryption_version: versions
// below it can no longer verify or decrypt.
func (v *Client) SetMinDecryptionVersion(ctx context.Context, name string, version int) error {
	return v.configureKey(ctx, name, map[string]any{"min_decryption_version": version})
}

func (v *Client) configureKey(ctx context.Context, name string, data map[string]any) error {
	if err := keyring.ValidateName(name); err != nil {
		return err
	}
	path := v.keyPath("keys", name, "config")
	if _, err := v.client.Logical().WriteWithContext(ctx, path, data); err != nil {
		return v.classify("configure key", path, err)
	}
	return nil
}

// DeleteKey deletes a transit key for good (Vault needs deletion_allowed,
// which DeleteKey sets first). Everything it signed stays verifiable with
// the public keys; everything it encrypted is lost.
func (v *Client) DeleteKey(ctx context.Context, name string) error {
	if err := v.configureKey(ctx, name, map[string]any{"deletion_allowed": true}); err != nil {
		return err
	}
	path := v.keyPath("keys", name)
	if _, err := v.client.Logical().DeleteWithContext(ctx, path); err != nil {
		return v.classify("delete key", path, err)
	}
	return nil
}

// Sign signs each message with version of the ed25519 key name (in one
// request, transit's batch_input) and returns the raw 64-byte signatures in
// order. Vault signs the messages themselves (pure Ed25519, as
// crypto/ed25519). version 0 lets Vault pick its latest: pass the version
// whose public key you expect.
func (v *Client) Sign(ctx context.Context, name string, version int, msgs ...[]byte) ([][]byte, error) {
	if err := keyring.ValidateName(name); err != nil {
		return nil, err
	}
	if len(msgs) == 0 {
		return nil, nil
	}
	batch := make([]map[string]any, len(msgs))
	for i, m := range msgs {
		batch[i] = map[string]any{"input": base64.StdEncoding.EncodeToString(m)}
	}
	req := map[string]any{"batch_input": batch}
	if version > 0 {
		req["key_version"] = version
	}
	path := v.keyPath("sign", name)
	s, err := v.client.Logical().WriteWithContext(ctx, path, req)
	if err != nil {
		return nil, v.classify("sign", path, err)
	}
	if s == nil || s.Data == nil {
		return nil, fmt.Errorf("%w: sign with %q: empty answer", ErrResponse, name)
	}
	results, _ := s.Data["batch_results"].([]any)
	if len(results) != len(msgs) {
		return nil, fmt.Errorf("%w: sign with %q: %d results for %d inputs", ErrResponse, name, len(results), len(msgs))
	}
	sigs := make([][]byte, len(msgs))
	for i, r := range results {
		m, _ := r.(map[string]any)
		if e, _ := m["error"].(string); e != "" {
			return nil, fmt.Errorf("%w: sign with %q (item %d): %s", ErrRequest, name, i, e)
		}
		sv, _ := m["signature"].(string)
		gotVer, sig, err := parseVaultValue(sv)
		if err != nil || len(sig) != security.SignatureSize {
			return nil, fmt.Errorf("%w: sign with %q: malformed signature", ErrResponse, name)
		}
		if version > 0 && gotVer != version {
			return nil, fmt.Errorf("%w: sign with %q: signed with version %d, asked for %d", ErrResponse, name, gotVer, version)
		}
		sigs[i] = sig
	}
	return sigs, nil
}

// Verify asks Vault whether sig (raw 64 bytes) is version's signature of
// msg. Offline verification with verify.Signature and the version's public key gives
// the same answer; this one is for callers that hold no public key.
func (v *Client) Verify(ctx context.Context, name string, version int, msg, sig []byte) (bool, error) {
	if err := keyring.ValidateName(name); err != nil {
		return false, err
	}
	if version < 1 {
		return false, fmt.Errorf("%w: verify needs a key version", ErrRequest)
	}
	path := v.keyPath("verify", name)
	s, err := v.client.Logical().WriteWithContext(ctx, path, map[string]any{
		"input":     base64.StdEncoding.EncodeToString(msg),
		"signature": fmt.Sprintf("vault:v%d:%s", version, base64.StdEncoding.EncodeToString(sig)),
	})
	if err != nil {
		return false, v.classify("verify", path, err)
	}
	if s == nil || s.Data == nil {
		return false, fmt.Errorf("%w: verify with %q: empty answer", ErrResponse, name)
	}
	valid, ok := s.Data["valid"].(bool)
	if !ok {
		return false, fmt.Errorf("%w: verify with %q: no verdict", ErrResponse, name)
	}
	return valid, nil
}

// DataKey asks transit for a fresh 256-bit data key under the KEK kek
// (an aes256-gcm96 key): the key itself, to encrypt with once and wipe,
// and its wrapped form ("vault:vN:..."), which only transit/decrypt on kek
// turns back into the key. The token needs update on
// transit/datakey/plaintext/KEK (not decrypt: writers need not be readers).
func (v *Client) DataKey(ctx context.Context, kek string) (key []byte, wrapped string, err error) {
	if err := keyring.ValidateName(kek); err != nil {
		return nil, "", err
	}
	path := v.keyPath("datakey", "plaintext", kek)
	s, err := v.client.Logical().WriteWithContext(ctx, path, map[string]any{"bits": 256})
	if err != nil {
		return nil, "", v.classify("new data key", path, err)
	}
	if s == nil || s.Data == nil {
		return nil, "", fmt.Errorf("%w: data key from %q: empty answer", ErrResponse, kek)
	}
	wrapped, _ = s.Data["ciphertext"].(string)
	pt, _ := s.Data["plaintext"].(string)
	key, err = base64.StdEncoding.DecodeString(pt)
	if err != nil || len(key) != 32 || !strings.HasPrefix(wrapped, "vault:v") {
		clear(key)
		return nil, "", fmt.Errorf("%w: data key from %q: malformed", ErrResponse, kek)
	}
	return key, wrapped, nil
}

// Decrypt unwraps ciphertext ("vault:vN:...") with the KEK kek. Vault's
// policy decides: a token without update on transit/decrypt/KEK gets
// ErrDenied.
func (v *Client) Decrypt(ctx context.Context, kek, ciphertext string) ([]byte, error) {
	if err := keyring.ValidateName(kek); err != nil {
		return nil, err
	}
	path := v.keyPath("decrypt", kek)
	s, err := v.client.Logical().WriteWithContext(ctx, path, map[string]any{"ciphertext": ciphertext})
	if err != nil {
		return nil, v.classify("decrypt", path, err)
	}
	if s == nil || s.Data == nil {
		return nil, fmt.Errorf("%w: decrypt with %q: empty answer", ErrResponse, kek)
	}
	pt, _ := s.Data["plaintext"].(string)
	out, err := base64.StdEncoding.DecodeString(pt)
	if err != nil {
		return nil, fmt.Errorf("%w: decrypt with %q: malformed plaintext", ErrResponse, kek)
	}
	return out, nil
}

// parseVaultValue splits "vault:vN:BASE64".
func parseVaultValue(s string) (int, []byte, error) {
	rest, ok := strings.CutPrefix(s, "vault:v")
	if !ok {
		return 0, nil, errors.New("no vault:v prefix")
	}
	vs, b64, ok := strings.Cut(rest, ":")
	if !ok {
		return 0, nil, errors.New("no version separator")
	}
	ver, err := strconv.Atoi(vs)
	if err != nil || ver < 1 {
		return 0, nil, errors.New("bad version")
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return 0, nil, err
	}
	return ver, b, nil
}

// TransitSigner signs with one version of an ed25519 transit key. It
// implements Signer: PubKey is that version's key, read once when the
// signer is made, and every signature Vault returns is verified against it
// before Sign returns it. Safe for concurrent use.
type TransitSigner struct {
	v       *Client
	name    string
	version int
	pub     []byte
	timeout time.Duration
}

var (
	_ security.Signer      = (*TransitSigner)(nil)
	_ security.BatchSigner = (*TransitSigner)(nil)
)

// Signer returns a signer for the ed25519 transit key name at version; 0
// means the key's SigningVersion. ErrNotFound if the key is missing,
// ErrKeyType if it is not ed25519.
func (v *Client) Signer(ctx context.Context, name string, version int) (*TransitSigner, error) {
	k, err := v.ReadKey(ctx, name)
	if err != nil {
		return nil, err
	}
	if k.Type != TransitKeyEd25519 {
		return nil, fmt.Errorf("%w: %q is %s, signing needs %s", ErrKeyType, name, k.Type, TransitKeyEd25519)
	}
	if version == 0 {
		version = k.SigningVersion()
	}
	pub := k.PubKey(version)
	if pub == nil {
		return nil, fmt.Errorf("%w: transit key %q has no version %d (versions %v)", ErrNotFound, name, version, k.Versions())
	}
	return &TransitSigner{v: v, name: name, version: version, pub: pub, timeout: v.cfg.Timeout}, nil
}

// KeyName is the transit key's name.
func (s *TransitSigner) KeyName() string { return s.name }

// Version is the key version this signer signs with.
func (s *TransitSigner) Version() int { return s.version }

// PubKey returns a copy of the version's 32-byte public key.
func (s *TransitSigner) PubKey() []byte { return slices.Clone(s.pub) }

// Sign signs msg in Vault, bounded by the configured timeout.
func (s *TransitSigner) Sign(msg []byte) ([]byte, error) {
	sigs, err := s.SignBatch([][]byte{msg})
	if err != nil {
		return nil, err
	}
	return sigs[0], nil
}

// SignBatch signs msgs in one Vault request.
func (s *TransitSigner) SignBatch(msgs [][]byte) ([][]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	return s.SignBatchContext(ctx, msgs)
}

// SignBatchContext is SignBatch under ctx.
func (s *TransitSigner) SignBatchContext(ctx context.Context, msgs [][]byte) ([][]byte, error) {
	sigs, err := s.v.Sign(ctx, s.name, s.version, msgs...)
	if err != nil {
		return nil, err
	}
	for i, sig := range sigs {
		if !verify.Signature(s.pub, msgs[i], sig) {
			return nil, fmt.Errorf("%w: Vault's signature with %q v%d does not verify against that version's public key", ErrResponse, s.name, s.version)
		}
	}
	return sigs, nil
}

// Rotation is a key rotation in progress: Old signs the RotateKey tx that
// registers New on chain; FinishRotation then retires Old in Vault.
type Rotation struct {
	Key        string
	OldVersion int
	NewVersion int
	Old        *TransitSigner
	NewPubKey  []byte
	// Resumed is true when an earlier, unfinished rotation's new version is
	// reused instead of rotating again.
	Resumed bool
}

// BeginRotation prepares rotating the ed25519 key name. It pins the
// current signing version (min_encryption_version), so that signers keep
// using the version the chain knows, then rotates the key in Vault, unless
// a rotation is already pending (a version newer than the signing
// version): that one is reused, so retrying after a failure never burns
// versions. Submit a RotateKey{new_pub_key: NewPubKey} signed by Old, and
// call FinishRotation once it is committed.
func (v *Client) BeginRotation(ctx context.Context, name string) (*Rotation, error) {
	k, err := v.ReadKey(ctx, name)
	if err != nil {
		return nil, err
	}
	if k.Type != TransitKeyEd25519 {
		return nil, fmt.Errorf("%w: %q is %s, rotation is for %s signing keys", ErrKeyType, name, k.Type, TransitKeyEd25519)
	}
	cur := k.SigningVersion()
	resumed := k.LatestVersion > cur
	if !resumed {
		if k.MinEncryptionVersion == 0 {
			if err := v.SetMinSigningVersion(ctx, name, cur); err != nil {
				return nil, err
			}
		}
		if k, err = v.RotateKey(ctx, name); err != nil {
			return nil, err
		}
	}
	newPub := k.PubKey(k.LatestVersion)
	if newPub == nil {
		return nil, fmt.Errorf("%w: key %q: no public key for version %d", ErrResponse, name, k.LatestVersion)
	}
	old, err := v.Signer(ctx, name, cur)
	if err != nil {
		return nil, err
	}
	return &Rotation{Key: name, OldVersion: cur, NewVersion: k.LatestVersion, Old: old, NewPubKey: slices.Clone(newPub), Resumed: resumed}, nil
}

// FinishRotation makes r.NewVersion the signing version: from now on the
// old version can no longer sign in Vault (it still verifies).
func (v *Client) FinishRotation(ctx context.Context, r *Rotation) error {
	return v.SetMinSigningVersion(ctx, r.Key, r.NewVersion)
}
