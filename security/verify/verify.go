package verify

import (
	"crypto/ed25519"

	voied25519 "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// verifyOptions are the verification rules of every Signature and Batch:
// ZIP-215, exactly as CometBFT's crypto/ed25519 uses them. Cofactored
// verification makes single and batch verification agree, and ZIP-215
// accepts every signature Go's crypto/ed25519 accepts (plus some
// non-canonical encodings no honest signer produces), so all replicas reach
// the same verdict whichever path they take.
var verifyOptions = &voied25519.Options{Verify: voied25519.VerifyOptionsZIP_215}

// Signature reports whether sig is a valid ed25519 signature of msg by pub,
// under ZIP-215 rules (see the package doc). Inputs of the wrong length are
// simply invalid: Signature never panics.
func Signature(pub, msg, sig []byte) bool {
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return false
	}
	return voied25519.VerifyWithOptions(voied25519.PublicKey(pub), msg, sig, verifyOptions)
}
