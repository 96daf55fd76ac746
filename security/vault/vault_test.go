package vault_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/security/keyring"
	"github.com/dstt/dstt/security/vault"
	"github.com/dstt/dstt/security/vault/vaulttest"
	"github.com/dstt/dstt/security/verify"
	"github.com/dstt/dstt/types"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestVaultTransitKeys: create, read public keys per version, sign (checked
// offline with crypto/ed25519 and by Vault), rotate with the signing
// version pinned, finish, and the old version refused for signing.
func TestVaultTransitKeys(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	v := srv.Vault("")
	ctx := ctxT(t)

	k, err := v.CreateKey(ctx, "alice", vault.TransitKeyEd25519)
	if err != nil {
		t.Fatal(err)
	}
	if k.LatestVersion != 1 || k.SigningVersion() != 1 || len(k.PubKey(1)) != 32 {
		t.Fatalf("new key: %+v", k)
	}
	if _, err := v.CreateKey(ctx, "alice", vault.TransitKeyEd25519); !errors.Is(err, keyring.ErrKeyExists) {
		t.Fatalf("create twice: %v", err)
	}
	s, err := v.Signer(ctx, "alice", 0)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("hello vault")
	sig, err := s.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(s.PubKey(), msg, sig) || !verify.Signature(s.PubKey(), msg, sig) {
		t.Fatal("transit signature does not verify offline")
	}
	if ok, err := v.Verify(ctx, "alice", 1, msg, sig); err != nil || !ok {
		t.Fatalf("vault verify: %v %v", ok, err)
	}
	if ok, _ := v.Verify(ctx, "alice", 1, []byte("other"), sig); ok {
		t.Fatal("vault verified a signature of another message")
	}
	sigs, err := s.SignBatch([][]byte{[]byte("a"), []byte("b"), []byte("c")})
	if err != nil || len(sigs) != 3 || !verify.Signature(s.PubKey(), []byte("b"), sigs[1]) {
		t.Fatalf("batch: %v", err)
	}

	// Rotation: v1 stays the signing version until finished.
	r, err := v.BeginRotation(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if r.OldVersion != 1 || r.NewVersion != 2 || r.Resumed || string(r.Old.PubKey()) != string(s.PubKey()) {
		t.Fatalf("rotation: %+v", r)
	}
	if cur, _ := v.Signer(ctx, "alice", 0); cur.Version() != 1 {
		t.Fatalf("signing version during rotation: %d", cur.Version())
	}
	again, err := v.BeginRotation(ctx, "alice")
	if err != nil || !again.Resumed || again.NewVersion != 2 || string(again.NewPubKey) != string(r.NewPubKey) {
		t.Fatalf("resumed rotation: %+v %v", again, err)
	}
	if err := v.FinishRotation(ctx, r); err != nil {
		t.Fatal(err)
	}
	k, _ = v.ReadKey(ctx, "alice")
	if k.SigningVersion() != 2 || string(k.PubKey(1)) != string(s.PubKey()) || string(k.PubKey(2)) != string(r.NewPubKey) {
		t.Fatalf("after rotation: %+v", k)
	}
	if _, err := r.Old.Sign(msg); !errors.Is(err, vault.ErrRequest) {
		t.Fatalf("old version signed after the rotation finished: %v", err)
	}
	if ok, err := v.Verify(ctx, "alice", 1, msg, sig); err != nil || !ok {
		t.Fatalf("old signature no longer verifies: %v %v", ok, err)
	}
	s2, _ := v.Signer(ctx, "alice", 0)
	sig2, err := s2.Sign(msg)
	if err != nil || !verify.Signature(r.NewPubKey, msg, sig2) {
		t.Fatalf("new version: %v", err)
	}

	// A KEK is not a signing key.
	if _, err := v.CreateKey(ctx, "kek", vault.TransitKeyAES256); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Signer(ctx, "kek", 0); !errors.Is(err, vault.ErrKeyType) {
		t.Fatalf("signer on an AES key: %v", err)
	}
	if _, err := v.ReadKey(ctx, "nobody"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}
}

// TestVaultKeyring: keyring.Open("vault") from the environment; a tx signed
// through it verifies like any other.
func TestVaultKeyring(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	t.Setenv("VAULT_ADDR", srv.Addr)
	t.Setenv("VAULT_TOKEN", vaulttest.RootToken)
	kr, err := keyring.Open(keyring.BackendVault, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if vault.ClientOf(kr) == nil {
		t.Fatal("ClientOf(vault keyring) = nil")
	}
	ks, err := kr.List()
	if err != nil || len(ks) != 0 {
		t.Fatalf("empty list: %v %v", ks, err)
	}
	a, err := kr.Add("bob")
	if err != nil {
		t.Fatal(err)
	}
	if a.Backend != keyring.BackendVault || a.Address != types.Address(a.PubKey) {
		t.Fatalf("info: %+v", a)
	}
	if _, err := kr.Add("bob"); !errors.Is(err, keyring.ErrKeyExists) {
		t.Fatalf("add twice: %v", err)
	}
	if _, err := kr.Add("bad/name"); !errors.Is(err, keyring.ErrBadName) {
		t.Fatalf("bad name: %v", err)
	}
	if _, err := kr.Import("imp", ed25519.NewKeyFromSeed(make([]byte, 32))); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("import: %v", err)
	}
	if _, err := vault.ClientOf(kr).CreateKey(ctxT(t), "some-kek", vault.TransitKeyAES256); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Add("carol"); err != nil {
		t.Fatal(err)
	}
	ks, err = kr.List()
	if err != nil || len(ks) != 2 || ks[0].Name != "bob" || ks[1].Name != "carol" {
		t.Fatalf("list (the AES key must not show): %+v %v", ks, err)
	}
	sh, err := kr.Show("bob")
	if err != nil || string(sh.PubKey) != string(a.PubKey) {
		t.Fatalf("show: %+v %v", sh, err)
	}
	if _, err := kr.Show("nobody"); !errors.Is(err, keyring.ErrKeyNotFound) {
		t.Fatalf("show missing: %v", err)
	}
	s, err := kr.Signer("bob")
	if err != nil {
		t.Fatal(err)
	}
	body := &types.TxBody{ChainId: "c", Nonce: 1, ValidUntilHeight: 9, Ops: []types.Op{{Sum: &types.Op_Put{Put: &types.Put{Key: "k", Value: []byte("v")}}}}}
	txb, err := security.SignTx(body, s)
	if err != nil {
		t.Fatal(err)
	}
	tx, _, err := types.DecodeTx(txb)
	if err != nil || !verify.Signature(a.PubKey, types.SignBytes("c", tx.BodyBytes), tx.Signatures[0].Signature) {
		t.Fatalf("tx signed through Vault does not verify: %v", err)
	}
	if err := kr.Delete("carol"); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Show("carol"); !errors.Is(err, keyring.ErrKeyNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

// TestVaultErrors: unreachable, wrong token, denied by policy, sealed: each
// a clear error of its kind that never carries the token.
func TestVaultErrors(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	ctx := ctxT(t)
	root := srv.Vault("")
	if _, err := root.CreateKey(ctx, "k", vault.TransitKeyEd25519); err != nil {
		t.Fatal(err)
	}
	noSecret := func(err error, secrets ...string) {
		t.Helper()
		for _, s := range secrets {
			if s != "" && strings.Contains(err.Error(), s) {
				t.Fatalf("error leaks a secret: %v", err)
			}
		}
	}

	// Unreachable: nothing listens there.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + l.Addr().String()
	l.Close()
	cfg := srv.Config("s.sometoken")
	cfg.Address = dead
	_, err := vault.New(ctx, cfg, nil)
	if !errors.Is(err, vault.ErrUnreachable) || !strings.Contains(err.Error(), "connect") {
		t.Fatalf("unreachable: %v", err)
	}
	noSecret(err, "s.sometoken")
	t.Logf("unreachable: %v", err)

	// Wrong token.
	_, err = vault.New(ctx, srv.Config("hvs.wrong-token-value"), nil)
	if !errors.Is(err, vault.ErrDenied) {
		t.Fatalf("wrong token: %v", err)
	}
	noSecret(err, "hvs.wrong-token-value")
	t.Logf("wrong token: %v", err)

	// Policy denial: may read keys but not sign.
	srv.PutPolicy("read-only", `path "transit/keys/*" { capabilities = ["read"] }`)
	tok := srv.Token("read-only")
	ro := srv.Vault(tok)
	s, err := ro.Signer(ctx, "k", 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Sign([]byte("m"))
	if !errors.Is(err, vault.ErrDenied) || !strings.Contains(err.Error(), "transit/sign/k") {
		t.Fatalf("denied: %v", err)
	}
	noSecret(err, tok)
	t.Logf("denied: %v", err)

	// No credentials at all.
	c := srv.Config("")
	if _, err := vault.New(ctx, c, nil); !errors.Is(err, vault.ErrConfig) {
		t.Fatalf("no credentials: %v", err)
	}

	// Sealed: signing and connecting say so; after unsealing it works again.
	signer, err := root.Signer(ctx, "k", 0)
	if err != nil {
		t.Fatal(err)
	}
	srv.Seal()
	_, err = signer.Sign([]byte("m"))
	if !errors.Is(err, vault.ErrSealed) {
		t.Fatalf("sealed sign: %v", err)
	}
	t.Logf("sealed: %v", err)
	if _, err := vault.New(ctx, srv.Config(vaulttest.RootToken), nil); !errors.Is(err, vault.ErrSealed) {
		t.Fatalf("sealed connect: %v", err)
	}
	srv.Unseal()
	if _, err := signer.Sign([]byte("m")); err != nil {
		t.Fatalf("after unseal: %v", err)
	}

	// Down.
	srv.Kill()
	_, err = signer.Sign([]byte("m"))
	if !errors.Is(err, vault.ErrUnreachable) {
		t.Fatalf("down: %v", err)
	}
}

// TestVaultTLS: -dev-tls with VAULT_CACERT; without the CA a clear TLS error.
func TestVaultTLS(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{TLS: true})
	if !strings.HasPrefix(srv.Addr, "https://") {
		t.Fatal(srv.Addr)
	}
	ctx := ctxT(t)
	v := srv.Vault("")
	if _, err := v.CreateKey(ctx, "tls-key", vault.TransitKeyEd25519); err != nil {
		t.Fatal(err)
	}
	s, err := v.Signer(ctx, "tls-key", 0)
	if err != nil {
		t.Fatal(err)
	}
	if sig, err := s.Sign([]byte("over tls")); err != nil || !verify.Signature(s.PubKey(), []byte("over tls"), sig) {
		t.Fatalf("sign over TLS: %v", err)
	}
	// The environment route: VAULT_CACERT.
	t.Setenv("VAULT_ADDR", srv.Addr)
	t.Setenv("VAULT_TOKEN", vaulttest.RootToken)
	t.Setenv("VAULT_CACERT", srv.CACert)
	kr, err := keyring.Open(keyring.BackendVault, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Show("tls-key"); err != nil {
		t.Fatal(err)
	}
	cfg := srv.Config(vaulttest.RootToken)
	cfg.CACert = ""
	t.Setenv("VAULT_CACERT", "")
	os.Unsetenv("VAULT_CACERT")
	_, err = vault.New(ctx, cfg, nil)
	if !errors.Is(err, vault.ErrUnreachable) || !strings.Contains(err.Error(), "unknown authority") {
		t.Fatalf("without the CA: %v", err)
	}
	t.Logf("without the CA: %v", err)
}

// TestVaultAppRoleAndRenewal: a node logs in with AppRole; its token
// (TTL 2 s, max 4 s) is renewed and then replaced by a new login, so
// signing keeps working well past the max TTL. A renewable plain token
// (TTL 3 s) is renewed too.
func TestVaultAppRoleAndRenewal(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	ctx := ctxT(t)
	root := srv.Vault("")
	if _, err := root.CreateKey(ctx, "node-audit", vault.TransitKeyEd25519); err != nil {
		t.Fatal(err)
	}
	srv.PutPolicy("node", `
path "transit/keys/node-audit" { capabilities = ["read"] }
path "transit/sign/node-audit" { capabilities = ["update"] }`)
	roleID, secretID := srv.AppRole("node", []string{"node"}, 2*time.Second, 4*time.Second)

	cfg := srv.Config("")
	cfg.RoleID = roleID
	secretFile := filepath.Join(t.TempDir(), "secret-id")
	if err := os.WriteFile(secretFile, []byte(secretID+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.SecretIDFile = secretFile
	node, err := vault.New(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	s, err := node.Signer(ctx, "node-audit", 0)
	if err != nil {
		t.Fatal(err)
	}

	// A plain renewable token, 3 s TTL.
	tc, err := srv.APIClient(vaulttest.RootToken).Auth().Token().Create(&vaultapi.TokenCreateRequest{Policies: []string{"node"}, TTL: "3s", Renewable: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := vault.New(ctx, srv.Config(tc.Auth.ClientToken), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	ps, err := plain.Signer(ctx, "node-audit", 0)
	if err != nil {
		t.Fatal(err)
	}

	deadline := time.Now().Add(9 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		if _, err := s.Sign([]byte(fmt.Sprint(i))); err != nil {
			t.Fatalf("AppRole signer after %s: %v", 9*time.Second-time.Until(deadline), err)
		}
		if _, err := ps.Sign([]byte(fmt.Sprint(i))); err != nil {
			t.Fatalf("renewed token signer after %s: %v", 9*time.Second-time.Until(deadline), err)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// Wrong secret id: denied, and the secret is in no error.
	bad := srv.Config("")
	bad.RoleID, bad.SecretID = roleID, "00000000-dead-beef-0000-000000000000"
	_, err = vault.New(ctx, bad, nil)
	if !errors.Is(err, vault.ErrDenied) {
		t.Fatalf("bad secret id: %v", err)
	}
	if strings.Contains(err.Error(), bad.SecretID) {
		t.Fatalf("error leaks the secret id: %v", err)
	}
	t.Logf("bad secret id: %v", err)
}

func TestVaultConfigValidate(t *testing.T) {
	c := vault.Config{Address: "ftp://x", TransitMount: "/t/", Timeout: -1, CACert: "/does/not/exist"}
	err := c.Validate()
	if !errors.Is(err, vault.ErrConfig) {
		t.Fatal(err)
	}
	for _, want := range []string{"ftp://x", "transit mount", "timeout", "ca cert", "no credentials"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate does not report %q: %v", want, err)
		}
	}
	c = vault.Config{Address: "http://127.0.0.1:1", Token: "hvs.secret"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "vault.json")
	os.WriteFile(p, []byte(`{"address": "https://vault:8200", "transit_mount": "dstt-transit", "timeout": "3s", "role_id": "r"}`), 0o600)
	got, err := vault.LoadConfigFile(p, vault.DefaultConfig())
	if err != nil || got.Address != "https://vault:8200" || got.TransitMount != "dstt-transit" || got.Timeout != 3*time.Second || got.RoleID != "r" {
		t.Fatalf("config file: %+v %v", got, err)
	}
	os.WriteFile(p, []byte(`{"token": "x"}`), 0o600)
	if _, err := vault.LoadConfigFile(p, vault.DefaultConfig()); !errors.Is(err, vault.ErrConfig) {
		t.Fatalf("a token in the config file must be refused: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
