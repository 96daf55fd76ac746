// Package verify checks ed25519 signatures the way every dstt validator
// must, so that all replicas reach the same verdict: Signature checks one,
// Batch many, and Cache remembers which txs were already verified.
//
// Signature and Batch use ZIP-215 rules through curve25519-voi, with
// exactly the options CometBFT's crypto/ed25519 uses: cofactored
// verification that accepts non-canonical point encodings. ZIP-215 accepts
// every signature Go's crypto/ed25519 accepts; it additionally accepts some
// edge-case encodings that no honest signer produces. What matters for
// consensus is that the verdict is a function of (key, message, signature)
// alone, so every validator agrees whichever path it takes.
//
// Batch returns the same verdicts as calling Signature on each item. It
// checks chunks of items with one randomised batch equation each, spread
// over runtime.GOMAXPROCS goroutines; a chunk whose equation fails is
// rechecked one signature at a time. Because verification is cofactored, a
// batch of valid signatures always passes, and a batch holding an invalid
// signature passes only with probability below 2^-128. Neither function
// panics: keys and signatures of the wrong length are simply invalid.
//
// Cache is a bounded, concurrency-safe set of tx hashes already verified,
// so a validator verifies a tx once between CheckTx and FinalizeBlock. It
// is node-local: a miss means verifying again, so it never changes an
// outcome.
//
// It is its own package so that a client, which only signs, does not link
// the curve arithmetic.
package verify
