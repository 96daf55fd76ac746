package typestest

import (
	"crypto/ed25519"
	"crypto/sha256"
	"sync/atomic"
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

// Chain is the chain ID of the test chains that GovTx signs for.
const Chain = "test-chain"

// Addr is the address of the named test key.
func Addr(name string) string { return types.Address(Key(name).PubKey()) }

var nonces atomic.Uint64

// GovTx is a tx of ops for Chain, signed by the named test keys, with a
// nonce no other GovTx in this process used, valid for 10 blocks after
// height.
func GovTx(t testing.TB, height uint64, ops []types.Op, signers ...string) []byte {
	t.Helper()
	body := &types.TxBody{ChainId: Chain, Nonce: nonces.Add(1), ValidUntilHeight: height + 10, Ops: ops}
	ss := make([]security.Signer, len(signers))
	for i, s := range signers {
		ss[i] = Key(s)
	}
	return SignTx(t, body, ss...)
}
