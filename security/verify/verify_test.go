package verify

import (
	"bytes"
	"crypto/ed25519"
	"testing"
)

func TestVerifyWrongLengths(t *testing.T) {
	pk, priv, _ := ed25519.GenerateKey(nil)
	msg := []byte("m")
	sig := ed25519.Sign(priv, msg)
	pub := []byte(pk)
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
		if Signature(tc.pub, msg, tc.sig) {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

// TestVerifyZIP215EdgeCase: the identity key with R = identity and S = 0
// verifies any message under ZIP-215 (and under crypto/ed25519). Both
// verification paths must agree on it.
func TestVerifyZIP215EdgeCase(t *testing.T) {
	pub, sig := identityKeyAndSig()
	msg := []byte("anything")
	single := Signature(pub, msg, sig)
	if !single {
		t.Fatal("ZIP-215 rejects the identity key's trivial signature")
	}
	if single != ed25519.Verify(pub, msg, sig) {
		t.Fatalf("Verify=%v disagrees with crypto/ed25519 on the small-order case", single)
	}
	got := Batch([]Item{{pub, msg, sig}, {pub, msg, sig}})
	if got[0] != single || got[1] != single {
		t.Fatalf("batch %v, single %v", got, single)
	}
}

func identityKeyAndSig() (pub, sig []byte) {
	pub = make([]byte, ed25519.PublicKeySize)
	pub[0] = 1 // y = 1: the identity point
	sig = make([]byte, ed25519.SignatureSize)
	sig[0] = 1 // R = identity, S = 0
	return pub, sig
}

func FuzzVerify(f *testing.F) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	msg := []byte("fuzz")
	sig := ed25519.Sign(priv, msg)
	good := Item{PubKey: pub, Msg: msg, Sig: sig}
	f.Add([]byte(pub), msg, sig)
	f.Add([]byte(pub), []byte("other"), sig)
	f.Add([]byte{}, []byte{}, []byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 32), msg, bytes.Repeat([]byte{0xff}, 64))
	idPub, idSig := identityKeyAndSig()
	f.Add(idPub, msg, idSig)
	f.Fuzz(func(t *testing.T, pub, msg, sig []byte) {
		v := Signature(pub, msg, sig)
		got := Batch([]Item{{pub, msg, sig}, good, {pub, msg, sig}})
		if got[0] != v || got[2] != v || !got[1] {
			t.Fatalf("Verify=%v, VerifyBatch=%v", v, got)
		}
	})
}
