package audit

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/types"
)

// ErrKeyFile is returned for an audit key file that cannot be used.
var ErrKeyFile = errors.New("audit: bad audit key file")

// keyFile is HOME/config/audit_key.json: the node's audit signing key, in
// clear like CometBFT's node_key.json and priv_validator_key.json (mode
// 0600). A Vault transit signer can replace it through security.Signer.
type keyFile struct {
	Type    string `json:"type"`     // "ed25519"
	Address string `json:"address"`  // types.Address(pub_key)
	PubKey  string `json:"pub_key"`  // hex
	PrivKey string `json:"priv_key"` // hex of the 32-byte seed
}

// LoadOrGenerateKey loads the audit key at path, or creates one (mode 0600,
// directory 0700) when the file does not exist.
func LoadOrGenerateKey(path string) (*security.LocalSigner, error) {
	s, err := LoadKey(path)
	if !errors.Is(err, os.ErrNotExist) {
		return s, err
	}
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	signer := security.NewLocalSigner(priv)
	pub := signer.PubKey()
	b, err := json.MarshalIndent(keyFile{
		Type: "ed25519", Address: types.Address(pub),
		PubKey: hex.EncodeToString(pub), PrivKey: hex.EncodeToString(priv.Seed()),
	}, "", "  ")
	clear(priv)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return nil, err
	}
	// Link rather than rename: if another process created the key meanwhile,
	// keep theirs.
	err = os.Link(tmp, path)
	os.Remove(tmp)
	if errors.Is(err, os.ErrExist) {
		return LoadKey(path)
	}
	if err != nil {
		return nil, err
	}
	return signer, nil
}

// LoadKey loads the audit key at path.
func LoadKey(path string) (*security.LocalSigner, error) {
	kf, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	seed, err := hex.DecodeString(kf.PrivKey)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w: %s: priv_key must be %d bytes of hex", ErrKeyFile, path, ed25519.SeedSize)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	defer clear(priv)
	clear(seed)
	s := security.NewLocalSigner(priv)
	if hex.EncodeToString(s.PubKey()) != kf.PubKey {
		return nil, fmt.Errorf("%w: %s: pub_key does not match priv_key", ErrKeyFile, path)
	}
	return s, nil
}

// LoadPubKey reads only the public key of the audit key file at path (no
// private key needed: for verifiers).
func LoadPubKey(path string) ([]byte, error) {
	kf, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	pub, err := hex.DecodeString(kf.PubKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: %s: pub_key must be %d bytes of hex", ErrKeyFile, path, ed25519.PublicKeySize)
	}
	return pub, nil
}

func readKeyFile(path string) (keyFile, error) {
	var kf keyFile
	b, err := os.ReadFile(path)
	if err != nil {
		return kf, err
	}
	if err := json.Unmarshal(b, &kf); err != nil {
		return kf, fmt.Errorf("%w: %s: %v", ErrKeyFile, path, err)
	}
	if kf.Type != "ed25519" {
		return kf, fmt.Errorf("%w: %s: type %q, want ed25519", ErrKeyFile, path, kf.Type)
	}
	return kf, nil
}
