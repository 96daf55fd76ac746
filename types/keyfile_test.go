package types_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/dstt/dstt/security/keyring"
	"github.com/dstt/dstt/types"
)

// Key file vectors: the test keyring's unencrypted file and the file
// keyring's encrypted file (docs/WIRE.md, "Key files"), made here from the
// documented construction with fixed salt and nonce, and opened by the
// real keyring (keyring.Open) in TestWireKeyFiles.

type wireKeyFile struct {
	Name    string `json:"name"`
	Backend string `json:"backend"`
	Key     string `json:"key"`
	// FileName is the file's name in the keyring directory (for the test
	// backend, under KEYRING_DIR/test/).
	FileName          string `json:"file_name"`
	Passphrase        string `json:"passphrase"`
	SeedHex           string `json:"seed_hex"`
	PubKeyHex         string `json:"pub_key_hex"`
	DerivedKeyHex     string `json:"derived_key_hex,omitempty"`
	AssociatedDataHex string `json:"associated_data_hex,omitempty"`
	Contents          string `json:"contents"`
}

type kdfJSON struct {
	Name      string `json:"name"`
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
}

func wireKeyFiles(keys map[string]wireSigner) []wireKeyFile {
	alice := keys["alice"]
	plain, err := json.MarshalIndent(struct {
		Version int    `json:"version"`
		Type    string `json:"type"`
		Warning string `json:"warning"`
		Address string `json:"address"`
		PubKey  []byte `json:"pub_key"`
		Seed    []byte `json:"seed"`
	}{1, "ed25519", "UNENCRYPTED test key: for tests and the dev node only, never for real funds or validators",
		alice.address(), alice.pub, alice.seed}, "", "  ")
	if err != nil {
		panic(err)
	}
	out := []wireKeyFile{{Name: "test-backend", Backend: "test", Key: "alice", FileName: "alice.key",
		SeedHex: hex.EncodeToString(alice.seed), PubKeyHex: hex.EncodeToString(alice.pub), Contents: string(plain)}}
	enc := func(name, key, pass string, kdf kdfJSON) wireKeyFile {
		k := keys[key]
		salt := sha256.Sum256([]byte("dstt/wire/salt/" + name))
		nonce := sha256.Sum256([]byte("dstt/wire/nonce/" + name))
		f := struct {
			Version    int     `json:"version"`
			Type       string  `json:"type"`
			Address    string  `json:"address"`
			PubKey     []byte  `json:"pub_key"`
			KDF        kdfJSON `json:"kdf"`
			Salt       []byte  `json:"salt"`
			Cipher     string  `json:"cipher"`
			Nonce      []byte  `json:"nonce"`
			Ciphertext []byte  `json:"ciphertext"`
		}{Version: 1, Type: "ed25519", Address: k.address(), PubKey: k.pub, KDF: kdf,
			Salt: salt[:16], Cipher: "xchacha20-poly1305", Nonce: nonce[:24]}
		ad := fmt.Appendf(nil, "dstt/keyring/v%d\x00%s\x00%s\x00t=%d,m=%d,p=%d\x00%x\x00%s\x00%x",
			f.Version, f.Type, kdf.Name, kdf.Time, kdf.MemoryKiB, kdf.Threads, f.Salt, f.Cipher, f.PubKey)
		dk := argon2.IDKey([]byte(pass), f.Salt, kdf.Time, kdf.MemoryKiB, kdf.Threads, chacha20poly1305.KeySize)
		aead, err := chacha20poly1305.NewX(dk)
		if err != nil {
			panic(err)
		}
		f.Ciphertext = aead.Seal(nil, f.Nonce, k.seed, ad)
		b, err := json.MarshalIndent(&f, "", "  ")
		if err != nil {
			panic(err)
		}
		return wireKeyFile{Name: name, Backend: "file", Key: key, FileName: key + ".key", Passphrase: pass,
			SeedHex: hex.EncodeToString(k.seed), PubKeyHex: hex.EncodeToString(k.pub),
			DerivedKeyHex: hex.EncodeToString(dk), AssociatedDataHex: hex.EncodeToString(ad), Contents: string(b)}
	}
	return append(out,
		// Cheap KDF parameters so every language's test runs fast; dstt
		// itself writes time 3, 64 MiB, 4 threads (the next vector).
		enc("file-backend-cheap-kdf", "alice", "correct horse battery staple", kdfJSON{"argon2id", 1, 64, 1}),
		enc("file-backend-default-kdf", "bob", "pässwörd ☕", kdfJSON{"argon2id", 3, 64 << 10, 4}),
	)
}

// TestWireKeyFiles: the real keyrings open every key file vector (written
// where they look for it) and yield its key.
func TestWireKeyFiles(t *testing.T) {
	f := loadWireFile(t)
	if len(f.KeyFiles) == 0 {
		t.Fatal("no key file vectors")
	}
	for _, v := range f.KeyFiles {
		t.Run(v.Name, func(t *testing.T) {
			dir := t.TempDir()
			sub := dir
			if v.Backend == "test" {
				sub = filepath.Join(dir, "test")
			}
			if err := os.MkdirAll(sub, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(sub, v.FileName), []byte(v.Contents), 0o600); err != nil {
				t.Fatal(err)
			}
			kr, err := keyring.Open(v.Backend, dir, func(bool) ([]byte, error) { return []byte(v.Passphrase), nil })
			if err != nil {
				t.Fatal(err)
			}
			s, err := kr.Signer(v.Key)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(s.PubKey()) != v.PubKeyHex || types.Address(s.PubKey()) == "" {
				t.Errorf("key file opens to %x, want %s", s.PubKey(), v.PubKeyHex)
			}
			if v.Backend == "file" {
				if _, err := keyring.Open(v.Backend, dir, func(bool) ([]byte, error) { return []byte(v.Passphrase + "x"), nil }); err != nil {
					t.Fatal(err)
				}
				kr2, _ := keyring.Open(v.Backend, dir, func(bool) ([]byte, error) { return []byte(v.Passphrase + "x"), nil })
				if _, err := kr2.Signer(v.Key); err == nil {
					t.Error("a wrong passphrase opens the key file")
				}
			}
		})
	}
}
