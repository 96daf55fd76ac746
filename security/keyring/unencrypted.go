package keyring

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/types"
)

// unencryptedWarning is written into every test-backend key file.
const unencryptedWarning = "UNENCRYPTED test key: for tests and the dev node only, never for real funds or validators"

// plainKeyFile is the test backend's key file: like the file backend's,
// but with the seed in clear.
type plainKeyFile struct {
	Version int    `json:"version"`
	Type    string `json:"type"`
	Warning string `json:"warning"`
	Address string `json:"address"`
	PubKey  []byte `json:"pub_key"`
	Seed    []byte `json:"seed"`
}

// unencryptedCodec stores keys in clear. WARNING: anyone who can read the
// directory has the keys. It exists so tests and the one-process dev node
// run without a passphrase; never use it for keys that matter.
type unencryptedCodec struct{}

var _ keyCodec = unencryptedCodec{}

// openTestKeyring opens the UNENCRYPTED test backend in dir (by
// convention KEYRING_DIR/test, so test keys never mix with real ones).
func openTestKeyring(dir string) (*dirKeyring, error) {
	return openDirKeyring(dir, BackendTest, unencryptedCodec{})
}

func (unencryptedCodec) seal(priv ed25519.PrivateKey) ([]byte, error) {
	pub := priv[security.SeedSize:]
	return json.MarshalIndent(&plainKeyFile{
		Version: fileKeyVersion,
		Type:    keyTypeEd25519,
		Warning: unencryptedWarning,
		Address: types.Address(pub),
		PubKey:  pub,
		Seed:    priv.Seed(),
	}, "", "  ")
}

func (unencryptedCodec) pubKey(data []byte) ([]byte, error) {
	f, err := decodePlainKeyFile(data)
	if err != nil {
		return nil, err
	}
	clear(f.Seed)
	return f.PubKey, nil
}

func (unencryptedCodec) open(data []byte) (ed25519.PrivateKey, error) {
	f, err := decodePlainKeyFile(data)
	if err != nil {
		return nil, err
	}
	defer clear(f.Seed)
	return ed25519.NewKeyFromSeed(f.Seed), nil
}

func decodePlainKeyFile(data []byte) (*plainKeyFile, error) {
	var f plainKeyFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, ErrBadKeyFile
	}
	if f.Version != fileKeyVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrBadKeyFile, f.Version, fileKeyVersion)
	}
	if f.Type != keyTypeEd25519 || len(f.Seed) != security.SeedSize {
		return nil, ErrBadKeyFile
	}
	if err := checkPubKey(f.PubKey, f.Address); err != nil {
		return nil, err
	}
	return &f, nil
}
