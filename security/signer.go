package security

// Signer signs with one ed25519 key. Implementations: the local keyring's
// signer (this package) and, later, a Vault transit signer.
type Signer interface {
	// PubKey returns the 32-byte ed25519 public key.
	PubKey() []byte
	// Sign returns the 64-byte ed25519 signature of msg.
	Sign(msg []byte) ([]byte, error)
}

// BatchSigner is a Signer that can sign several messages in one round trip.
type BatchSigner interface {
	Signer
	// SignBatch signs each message, in order.
	SignBatch(msgs [][]byte) ([][]byte, error)
}
