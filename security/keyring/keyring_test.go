package keyring

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/security/verify"
	"github.com/dstt/dstt/types"
)

const testPassphrase = "correct horse battery staple"

// cheapKDF keeps argon2id fast in tests; the file format records it, so
// files written with it open like any other.
var cheapKDF = argon2Param{Name: kdfArgon2id, Time: 1, MemoryKiB: 64, Threads: 1}

func fixedPassphrase(p string) PassphraseFunc {
	return func(bool) ([]byte, error) { return []byte(p), nil }
}

// keyringBackends opens each backend; reopen gives a second handle on the
// same storage (nil for memory).
func keyringBackends() map[string]func(t *testing.T) (kr Keyring, reopen func() Keyring) {
	return map[string]func(t *testing.T) (Keyring, func() Keyring){
		BackendFile: func(t *testing.T) (Keyring, func() Keyring) {
			dir := filepath.Join(t.TempDir(), "keys")
			open := func() Keyring {
				kr, err := openFileKeyring(dir, fixedPassphrase(testPassphrase), cheapKDF)
				if err != nil {
					t.Fatal(err)
				}
				return kr
			}
			return open(), open
		},
		BackendTest: func(t *testing.T) (Keyring, func() Keyring) {
			dir := t.TempDir()
			open := func() Keyring {
				kr, err := Open(BackendTest, dir, nil)
				if err != nil {
					t.Fatal(err)
				}
				return kr
			}
			return open(), open
		},
		BackendMemory: func(t *testing.T) (Keyring, func() Keyring) {
			kr, err := Open(BackendMemory, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			return kr, nil
		},
	}
}

func TestKeyringConformance(t *testing.T) {
	for backend, open := range keyringBackends() {
		t.Run(backend, func(t *testing.T) {
			kr, reopen := open(t)
			testKeyring(t, backend, kr, reopen)
		})
	}
}

func testKeyring(t *testing.T, backend string, kr Keyring, reopen func() Keyring) {
	mustInfo := func(info KeyInfo, err error) KeyInfo {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if info.Backend != backend || len(info.PubKey) != security.PubKeySize ||
			info.Address != types.Address(info.PubKey) {
			t.Fatalf("bad info %+v", info)
		}
		return info
	}

	if l, err := kr.List(); err != nil || len(l) != 0 {
		t.Fatalf("fresh keyring: %v, %v", l, err)
	}

	alice := mustInfo(kr.Add("alice"))
	if alice.Name != "alice" {
		t.Fatalf("name %q", alice.Name)
	}
	if _, err := kr.Add("alice"); !errors.Is(err, ErrKeyExists) {
		t.Fatalf("duplicate Add: %v", err)
	}
	_, bobPriv, _ := ed25519.GenerateKey(nil)
	bob := mustInfo(kr.Import("bob", bobPriv))
	if !bytes.Equal(bob.PubKey, bobPriv[security.SeedSize:]) {
		t.Fatal("imported key has another public key")
	}
	if _, err := kr.Import("bob", bobPriv); !errors.Is(err, ErrKeyExists) {
		t.Fatalf("duplicate Import: %v", err)
	}
	mismatched := bytes.Clone(bobPriv)
	mismatched[63] ^= 1
	for _, bad := range []ed25519.PrivateKey{nil, bobPriv[:32], mismatched} {
		if _, err := kr.Import("carol", bad); !errors.Is(err, security.ErrBadKey) {
			t.Fatalf("Import of malformed key: %v", err)
		}
	}

	// List sorts by name, not by file name ("a-.key" < "a.key").
	for _, n := range []string{"a-", "a", "Zed", "x.y_z-1"} {
		mustInfo(kr.Add(n))
	}
	list, err := kr.List()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, info := range list {
		names = append(names, info.Name)
	}
	if got, want := strings.Join(names, ","), "Zed,a,a-,alice,bob,x.y_z-1"; got != want {
		t.Fatalf("List order %s, want %s", got, want)
	}

	shown := mustInfo(kr.Show("alice"))
	if shown.Name != "alice" || !bytes.Equal(shown.PubKey, alice.PubKey) || shown.Address != alice.Address {
		t.Fatalf("Show %+v, Add gave %+v", shown, alice)
	}

	for _, info := range []KeyInfo{alice, bob} {
		s, err := kr.Signer(info.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(s.PubKey(), info.PubKey) {
			t.Fatal("signer has another public key")
		}
		msg := types.SignBytes("chain", []byte("body "+info.Name))
		sig, err := s.Sign(msg)
		if err != nil || !verify.Signature(info.PubKey, msg, sig) {
			t.Fatalf("signature does not verify: %v", err)
		}
	}

	if reopen != nil {
		kr2 := reopen()
		l2, err := kr2.List()
		if err != nil || len(l2) != len(list) {
			t.Fatalf("reopened List: %d keys, %v", len(l2), err)
		}
		s, err := kr2.Signer("bob")
		if err != nil || !bytes.Equal(s.PubKey(), bob.PubKey) {
			t.Fatalf("reopened Signer: %v", err)
		}
	}

	for _, bad := range []string{"", strings.Repeat("x", 65), "a/b", "../x", `a\b`, "a b", "é", "a\x00"} {
		if _, err := kr.Add(bad); !errors.Is(err, ErrBadName) {
			t.Errorf("Add(%q): %v", bad, err)
		}
		if _, err := kr.Import(bad, bobPriv); !errors.Is(err, ErrBadName) {
			t.Errorf("Import(%q): %v", bad, err)
		}
		if _, err := kr.Show(bad); !errors.Is(err, ErrBadName) {
			t.Errorf("Show(%q): %v", bad, err)
		}
		if _, err := kr.Signer(bad); !errors.Is(err, ErrBadName) {
			t.Errorf("Signer(%q): %v", bad, err)
		}
		if err := kr.Delete(bad); !errors.Is(err, ErrBadName) {
			t.Errorf("Delete(%q): %v", bad, err)
		}
	}
	mustInfo(kr.Add(strings.Repeat("x", 64)))

	if _, err := kr.Show("nobody"); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("Show missing: %v", err)
	}
	if _, err := kr.Signer("nobody"); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("Signer missing: %v", err)
	}
	if err := kr.Delete("nobody"); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("Delete missing: %v", err)
	}

	if err := kr.Delete("alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Show("alice"); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("Show after Delete: %v", err)
	}
	if err := kr.Delete("alice"); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("second Delete: %v", err)
	}
	again := mustInfo(kr.Add("alice"))
	if bytes.Equal(again.PubKey, alice.PubKey) {
		t.Fatal("re-added key reused the deleted one")
	}

	// Concurrent Adds of one name: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 4 {
		wg.Go(func() {
			_, err := kr.Add("race")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, ErrKeyExists):
				t.Errorf("concurrent Add: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d concurrent Adds succeeded", wins)
	}
}

func TestOpenKeyringBackends(t *testing.T) {
	if _, err := Open("nonesuch", t.TempDir(), nil); !errors.Is(err, ErrUnknownBackend) ||
		!strings.Contains(err.Error(), "file, test, memory") {
		t.Fatalf("unknown backend: %v", err)
	}
	if _, err := Open("", t.TempDir(), nil); !errors.Is(err, ErrNoPassphrase) {
		t.Fatalf("file backend without passphrase: %v", err)
	}
	if _, err := Open(BackendFile, "", fixedPassphrase("x")); err == nil {
		t.Fatal("file backend without a directory")
	}

	dir := t.TempDir()
	kr, err := Open(BackendTest, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Add("dev"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "test", "dev.key")); err != nil {
		t.Fatalf("test backend does not keep keys in DIR/test: %v", err)
	}
}

// TestFileKeyringDefaultKDF runs the default (production) argon2id cost
// once, through Open.
func TestFileKeyringDefaultKDF(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keyring")
	kr, err := Open("", dir, fixedPassphrase(testPassphrase))
	if err != nil {
		t.Fatal(err)
	}
	info, err := kr.Add("validator")
	if err != nil {
		t.Fatal(err)
	}
	if info.Backend != BackendFile {
		t.Fatalf("default backend %q", info.Backend)
	}
	data, err := os.ReadFile(filepath.Join(dir, "validator.key"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := decodeEncryptedKeyFile(data)
	if err != nil || f.KDF != defaultKDF {
		t.Fatalf("kdf %+v, %v", f, err)
	}
	s, err := kr.Signer("validator")
	if err != nil || !bytes.Equal(s.PubKey(), info.PubKey) {
		t.Fatalf("Signer: %v", err)
	}
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v, %v", st.Mode(), err)
	}
}

func TestFileKeyringAtRest(t *testing.T) {
	dir := t.TempDir()
	kr, err := openFileKeyring(dir, fixedPassphrase(testPassphrase), cheapKDF)
	if err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(nil)
	info, err := kr.Import("alice", priv)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "alice.key")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v", st.Mode(), err)
	}
	assertNoSecret(t, data, priv.Seed(), testPassphrase)
	if !bytes.Contains(data, []byte(info.Address)) {
		t.Fatal("address not stored in clear")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("stray files: %v", entries)
	}

	// Wrong passphrase: ErrBadPassphrase, and nothing secret in the error.
	wrong, _ := openFileKeyring(dir, fixedPassphrase("not it"), cheapKDF)
	_, err = wrong.Signer("alice")
	if !errors.Is(err, ErrBadPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if strings.Contains(err.Error(), "not it") || strings.Contains(err.Error(), testPassphrase) {
		t.Fatalf("error leaks the passphrase: %v", err)
	}
	// List and Show need no passphrase.
	if l, err := wrong.List(); err != nil || len(l) != 1 || !bytes.Equal(l[0].PubKey, info.PubKey) {
		t.Fatalf("List: %v, %v", l, err)
	}

	// Right passphrase, fresh handle: works.
	again, _ := openFileKeyring(dir, fixedPassphrase(testPassphrase), defaultKDF)
	if s, err := again.Signer("alice"); err != nil || !bytes.Equal(s.PubKey(), info.PubKey) {
		t.Fatalf("reopen: %v", err)
	}

	// Tampering with the ciphertext or any authenticated clear field
	// fails like a wrong passphrase; an inconsistent address is caught
	// without one.
	tamper := func(name string, edit func(f *encryptedKeyFile), want error) {
		t.Helper()
		f, err := decodeEncryptedKeyFile(data)
		if err != nil {
			t.Fatal(err)
		}
		edit(f)
		out, _ := jsonIndent(f)
		if err := os.WriteFile(path, out, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := again.Signer("alice"); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
	}
	tamper("ciphertext", func(f *encryptedKeyFile) { f.Ciphertext[5] ^= 1 }, ErrBadPassphrase)
	tamper("tag", func(f *encryptedKeyFile) { f.Ciphertext[len(f.Ciphertext)-1] ^= 1 }, ErrBadPassphrase)
	tamper("nonce", func(f *encryptedKeyFile) { f.Nonce[0] ^= 1 }, ErrBadPassphrase)
	tamper("salt", func(f *encryptedKeyFile) { f.Salt[0] ^= 1 }, ErrBadPassphrase)
	tamper("kdf time", func(f *encryptedKeyFile) { f.KDF.Time++ }, ErrBadPassphrase)
	other, _, _ := ed25519.GenerateKey(nil)
	tamper("pub key", func(f *encryptedKeyFile) { f.PubKey, f.Address = other, types.Address(other) }, ErrBadPassphrase)
	tamper("address", func(f *encryptedKeyFile) { f.Address = types.Address(other) }, ErrBadKeyFile)
	tamper("version", func(f *encryptedKeyFile) { f.Version = 2 }, ErrBadKeyFile)
	tamper("kdf memory", func(f *encryptedKeyFile) { f.KDF.MemoryKiB = 1 << 30 }, ErrBadKeyFile)
	tamper("short ciphertext", func(f *encryptedKeyFile) { f.Ciphertext = f.Ciphertext[:10] }, ErrBadKeyFile)
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := again.Show("alice"); !errors.Is(err, ErrBadKeyFile) {
		t.Fatalf("garbage file: %v", err)
	}
}

func TestFileKeyringPassphraseErrors(t *testing.T) {
	dir := t.TempDir()
	kr, _ := openFileKeyring(dir, fixedPassphrase(""), cheapKDF)
	if _, err := kr.Add("k"); !errors.Is(err, ErrEmptyPassphrase) {
		t.Fatalf("empty passphrase: %v", err)
	}
	boom := errors.New("no tty")
	kr, _ = openFileKeyring(dir, func(bool) ([]byte, error) { return nil, boom }, cheapKDF)
	if _, err := kr.Add("k"); !errors.Is(err, boom) {
		t.Fatalf("passphrase error: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("failed Add left files: %v", entries)
	}
	// Add asks with confirm=true, Signer with confirm=false.
	var asked []bool
	kr, _ = openFileKeyring(dir, func(confirm bool) ([]byte, error) {
		asked = append(asked, confirm)
		return []byte(testPassphrase), nil
	}, cheapKDF)
	kr.Add("k")
	kr.Signer("k")
	if len(asked) != 2 || !asked[0] || asked[1] {
		t.Fatalf("confirm flags %v", asked)
	}
}

func TestTestKeyringIsUnencrypted(t *testing.T) {
	dir := t.TempDir()
	kr, _ := Open(BackendTest, dir, nil)
	_, priv, _ := ed25519.GenerateKey(nil)
	kr.Import("dev", priv)
	path := filepath.Join(dir, "test", "dev.key")
	data, _ := os.ReadFile(path)
	if !bytes.Contains(data, []byte("UNENCRYPTED")) {
		t.Fatal("test key file does not say it is unencrypted")
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", st.Mode(), err)
	}
}

// assertNoSecret fails if data holds seed (raw, hex or base64) or the
// passphrase.
func assertNoSecret(t *testing.T, data, seed []byte, passphrase string) {
	t.Helper()
	for _, enc := range encodings(seed) {
		if bytes.Contains(data, enc) {
			t.Fatalf("key file holds the seed in clear (%q)", enc)
		}
	}
	if bytes.Contains(data, []byte(passphrase)) {
		t.Fatal("key file holds the passphrase")
	}
}
