package security

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/dstt/dstt/security/verify"
)

func TestSignVerifyRoundTrip(t *testing.T) {
	s, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("dstt round trip")
	sig, err := s.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	pub := s.PubKey()
	if len(pub) != PubKeySize || len(sig) != SignatureSize {
		t.Fatalf("sizes: pub %d sig %d", len(pub), len(sig))
	}
	if !verify.Signature(pub, msg, sig) {
		t.Fatal("valid signature rejected")
	}
	if !ed25519.Verify(pub, msg, sig) {
		t.Fatal("crypto/ed25519 rejects our signature")
	}
	if verify.Signature(pub, []byte("dstt round trip!"), sig) {
		t.Fatal("signature accepted for another message")
	}
	bad := bytes.Clone(sig)
	bad[10] ^= 1
	if verify.Signature(pub, msg, bad) {
		t.Fatal("tampered signature accepted")
	}
	other, _ := GenerateKey()
	if verify.Signature(other.PubKey(), msg, sig) {
		t.Fatal("signature accepted under another key")
	}
	// PubKey hands out a copy.
	pub[0] ^= 0xff
	if !verify.Signature(s.PubKey(), msg, sig) {
		t.Fatal("PubKey exposed internal state")
	}
}

func TestNewLocalSignerCopiesAndChecks(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	s := NewLocalSigner(priv)
	want := bytes.Clone(priv[SeedSize:])
	clear(priv)
	if !bytes.Equal(s.PubKey(), want) {
		t.Fatal("signer shares the caller's key slice")
	}
	if err := CheckPrivKey(make([]byte, 10)); !errors.Is(err, ErrBadKey) {
		t.Fatalf("short key: %v", err)
	}
	_, p2, _ := ed25519.GenerateKey(nil)
	p2[40] ^= 1 // public half no longer matches the seed
	if err := CheckPrivKey(p2); !errors.Is(err, ErrBadKey) {
		t.Fatalf("mismatched halves: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("NewLocalSigner accepted a malformed key")
		}
	}()
	NewLocalSigner(p2)
}
