package vault_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/dstt/dstt/security/vault"
	"github.com/dstt/dstt/security/vault/vaulttest"
)

func TestEnvelopeInMemory(t *testing.T) {
	ctx := context.Background()
	w := vault.NewInMemoryKeyWrapper()
	secret := []byte("patient 42: diagnosis confidential")
	env, err := vault.SealEnvelope(ctx, w, "records-kek", "hospital/p42", secret)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(env, secret) || !vault.IsEnvelope(env) {
		t.Fatalf("envelope holds the plaintext or is not recognised: %s", env)
	}
	e, err := vault.DecodeEnvelope(env)
	if err != nil || e.KEK != "records-kek" || e.Version != vault.EnvelopeVersion {
		t.Fatalf("decode: %+v %v", e, err)
	}
	got, err := vault.OpenEnvelope(ctx, w, "hospital/p42", env)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("open: %q %v", got, err)
	}
	// Two seals of the same value differ (fresh data key and nonce).
	env2, _ := vault.SealEnvelope(ctx, w, "records-kek", "hospital/p42", secret)
	if bytes.Equal(env, env2) {
		t.Fatal("two envelopes of the same value are equal")
	}
	// Copied under another key: refused.
	if _, err := vault.OpenEnvelope(ctx, w, "hospital/p43", env); !errors.Is(err, vault.ErrBadEnvelope) {
		t.Fatalf("moved envelope: %v", err)
	}
	// Tampered ciphertext, and a swapped wrapped key: refused.
	e.Ciphertext[0] ^= 1
	if _, err := vault.OpenEnvelope(ctx, w, "hospital/p42", e.Encode()); !errors.Is(err, vault.ErrBadEnvelope) {
		t.Fatalf("tampered: %v", err)
	}
	e.Ciphertext[0] ^= 1
	e2, _ := vault.DecodeEnvelope(env2)
	e.WrappedKey = e2.WrappedKey
	if _, err := vault.OpenEnvelope(ctx, w, "hospital/p42", e.Encode()); !errors.Is(err, vault.ErrBadEnvelope) {
		t.Fatalf("swapped wrapped key: %v", err)
	}
	// A plain value is not an envelope.
	if _, err := vault.OpenEnvelope(ctx, w, "k", []byte("plain")); !errors.Is(err, vault.ErrNotEnvelope) {
		t.Fatalf("plain: %v", err)
	}
	// Unknown version.
	var m map[string]any
	_ = json.Unmarshal(env, &m)
	m["dstt_envelope"] = 9
	b, _ := json.Marshal(m)
	if _, err := vault.DecodeEnvelope(b); !errors.Is(err, vault.ErrBadEnvelope) || !strings.Contains(err.Error(), "version 9") {
		t.Fatalf("version 9: %v", err)
	}
	// A denied unwrap passes the wrapper's error through.
	w.Deny("records-kek")
	if _, err := vault.OpenEnvelope(ctx, w, "hospital/p42", env); !errors.Is(err, vault.ErrDenied) {
		t.Fatalf("denied: %v", err)
	}
}

func FuzzDecodeEnvelope(f *testing.F) {
	env, _ := vault.SealEnvelope(context.Background(), vault.NewInMemoryKeyWrapper(), "k", "key", []byte("v"))
	f.Add(env)
	f.Add([]byte(`{"dstt_envelope":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := vault.DecodeEnvelope(data)
		if err != nil {
			return
		}
		e2, err := vault.DecodeEnvelope(e.Encode())
		if err != nil || !bytes.Equal(e.Encode(), e2.Encode()) {
			t.Fatalf("re-encode: %v", err)
		}
	})
}

// TestEnvelopeVault: a writer token may only make data keys; a reader
// token may decrypt; a third token may do neither and gets a clear denial.
func TestEnvelopeVault(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	ctx := ctxT(t)
	root := srv.Vault("")
	if _, err := root.CreateKey(ctx, "pii", vault.TransitKeyAES256); err != nil {
		t.Fatal(err)
	}
	srv.PutPolicy("pii-writer", `path "transit/datakey/plaintext/pii" { capabilities = ["update"] }`)
	srv.PutPolicy("pii-reader", `path "transit/decrypt/pii" { capabilities = ["update"] }`)
	writer := vault.TransitKeyWrapper{V: srv.Vault(srv.Token("pii-writer"))}
	reader := vault.TransitKeyWrapper{V: srv.Vault(srv.Token("pii-reader"))}
	outsider := vault.TransitKeyWrapper{V: srv.Vault(srv.Token("default"))}

	secret := []byte("IBAN DE89 3704 0044 0532 0130 00")
	env, err := vault.SealEnvelope(ctx, writer, "pii", "bank/acct/7", secret)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(env, secret) {
		t.Fatal("the envelope holds the plaintext")
	}
	e, _ := vault.DecodeEnvelope(env)
	if !strings.HasPrefix(e.WrappedKey, "vault:v1:") {
		t.Fatalf("wrapped key: %q", e.WrappedKey)
	}
	got, err := vault.OpenEnvelope(ctx, reader, "bank/acct/7", env)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("reader: %q %v", got, err)
	}
	if _, err := vault.OpenEnvelope(ctx, writer, "bank/acct/7", env); !errors.Is(err, vault.ErrDenied) {
		t.Fatalf("writer decrypting: %v", err)
	}
	_, err = vault.OpenEnvelope(ctx, outsider, "bank/acct/7", env)
	if !errors.Is(err, vault.ErrDenied) || !strings.Contains(err.Error(), "transit/decrypt/pii") {
		t.Fatalf("outsider: %v", err)
	}
	t.Logf("outsider: %v", err)
	if _, err := vault.SealEnvelope(ctx, outsider, "pii", "k", secret); !errors.Is(err, vault.ErrDenied) {
		t.Fatalf("outsider sealing: %v", err)
	}
	// The KEK rotates; old envelopes still open.
	if _, err := root.RotateKey(ctx, "pii"); err != nil {
		t.Fatal(err)
	}
	if got, err := vault.OpenEnvelope(ctx, reader, "bank/acct/7", env); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("after KEK rotation: %v", err)
	}
	env3, _ := vault.SealEnvelope(ctx, writer, "pii", "k3", secret)
	if e3, _ := vault.DecodeEnvelope(env3); !strings.HasPrefix(e3.WrappedKey, "vault:v2:") {
		t.Fatalf("new envelopes use the new KEK version: %q", e3.WrappedKey)
	}
}
