package typestest

import (
	"crypto/ed25519"
	"crypto/sha256"
	"testing"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/types"
)

// Key derives a fixed ed25519 key from a name, so golden files and test
// vectors are stable across runs.
func Key(name string) *security.LocalSigner {
	seed := sha256.Sum256([]byte("dstt-test-key/" + name))
	return security.NewLocalSigner(ed25519.NewKeyFromSeed(seed[:]))
}

// SignTx signs body with signers (security.SignTx) or fails the test.
func SignTx(t testing.TB, body *types.TxBody, signers ...security.Signer) []byte {
	t.Helper()
	tx, err := security.SignTx(body, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}
