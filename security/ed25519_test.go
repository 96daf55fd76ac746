package security

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
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
	if !Verify(pub, msg, sig) {
		t.Fatal("valid signature rejected")
	}
	if !ed25519.Verify(pub, msg, sig) {
		t.Fatal("crypto/ed25519 rejects our signature")
	}
	if Verify(pub, []byte("dstt round trip!"), sig) {
		t.Fatal("signature accepted for another message")
	}
	bad := bytes.Clone(sig)
	bad[10] ^= 1
	if Verify(pub, msg, bad) {
		t.Fatal("tampered signature accepted")
	}
	other, _ := GenerateKey()
	if Verify(other.PubKey(), msg, sig) {
		t.Fatal("signature accepted under another key")
	}
	// PubKey hands out a copy.
	pub[0] ^= 0xff
	if !Verify(s.PubKey(), msg, sig) {
		t.Fatal("PubKey exposed internal state")
	}
}

func TestVerifyWrongLengths(t *testing.T) {
	s, _ := GenerateKey()
	msg := []byte("m")
	sig, _ := s.Sign(msg)
	pub := s.PubKey()
	for _, tc := range []struct {
		name     string
		pub, sig []byte
	}{
		{"nil pub", nil, sig},
		{"short pub", pub[:31], sig},
		{"long pub", append(bytes.Clone(pub), 0), sig},
		{"nil sig", pub, nil},
		{"short sig", pub, sig[:63]},
		{"long sig", pub, append(bytes.Clone(sig), 0)},
		{"both nil", nil, nil},
	} {
		if Verify(tc.pub, msg, tc.sig) {
			t.Errorf("%s: accepted", tc.name)
		}
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

// TestVerifyZIP215EdgeCase: the identity key with R = identity and S = 0
// verifies any message under ZIP-215 (and under crypto/ed25519). Both
// verification paths must agree on it.
func TestVerifyZIP215EdgeCase(t *testing.T) {
	pub, sig := identityKeyAndSig()
	msg := []byte("anything")
	single := Verify(pub, msg, sig)
	if !single {
		t.Fatal("ZIP-215 rejects the identity key's trivial signature")
	}
	if single != ed25519.Verify(pub, msg, sig) {
		t.Fatalf("Verify=%v disagrees with crypto/ed25519 on the small-order case", single)
	}
	got := VerifyBatch([]SigItem{{pub, msg, sig}, {pub, msg, sig}})
	if got[0] != single || got[1] != single {
		t.Fatalf("batch %v, single %v", got, single)
	}
}

func identityKeyAndSig() (pub, sig []byte) {
	pub = make([]byte, PubKeySize)
	pub[0] = 1 // y = 1: the identity point
	sig = make([]byte, SignatureSize)
	sig[0] = 1 // R = identity, S = 0
	return pub, sig
}

func FuzzVerify(f *testing.F) {
	s, _ := GenerateKey()
	msg := []byte("fuzz")
	sig, _ := s.Sign(msg)
	good := SigItem{PubKey: s.PubKey(), Msg: msg, Sig: sig}
	f.Add(s.PubKey(), msg, sig)
	f.Add(s.PubKey(), []byte("other"), sig)
	f.Add([]byte{}, []byte{}, []byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 32), msg, bytes.Repeat([]byte{0xff}, 64))
	idPub, idSig := identityKeyAndSig()
	f.Add(idPub, msg, idSig)
	f.Fuzz(func(t *testing.T, pub, msg, sig []byte) {
		v := Verify(pub, msg, sig)
		got := VerifyBatch([]SigItem{{pub, msg, sig}, good, {pub, msg, sig}})
		if got[0] != v || got[2] != v || !got[1] {
			t.Fatalf("Verify=%v, VerifyBatch=%v", v, got)
		}
	})
}
