// Package security holds dstt's keys and signatures: the Signer interface,
// ed25519 signing and verification (single and batched), a cache of
// verified transactions, and the keyring that stores named keys.
//
// # Signatures
//
// Keys are ed25519. Signer is the interface every signing key offers
// (BatchSigner when it can sign several messages in one round trip);
// LocalSigner signs with a key in memory. SignTx signs a tx body with one or
// more Signers and RotateKeyOp builds the op that moves an identity to a
// new key. This package links no Vault and no CometBFT node code, so the
// client SDK (transport/client) can import it alone. Vault's transit
// signer, the "vault" keyring backend and envelope encryption are in
// security/vault (docs/KEYS.md); the CometBFT validator signer is
// consensus/privval. Verify and VerifyBatch
// use ZIP-215 rules through curve25519-voi, with exactly the options
// CometBFT's crypto/ed25519 uses: cofactored verification that accepts
// non-canonical point encodings. ZIP-215 accepts every signature Go's
// crypto/ed25519 accepts; it additionally accepts some edge-case encodings
// that no honest signer produces. What matters for consensus is that the
// verdict is a function of (key, message, signature) alone, so every
// validator agrees whichever path it takes.
//
// VerifyBatch returns the same verdicts as calling Verify on each item. It
// checks chunks of items with one randomised batch equation each, spread
// over runtime.GOMAXPROCS goroutines; a chunk whose equation fails is
// rechecked one signature at a time. Because verification is cofactored, a
// batch of valid signatures always passes, and a batch holding an invalid
// signature passes only with probability below 2^-128. Neither function
// panics: keys and signatures of the wrong length are simply invalid.
//
// VerifyCache is a bounded, concurrency-safe set of tx hashes already
// verified, so a validator verifies a tx once between CheckTx and
// FinalizeBlock. It is node-local: a miss means verifying again, so it
// never changes an outcome.
//
// # Keyring
//
// OpenKeyring(backend, dir, passphrase) returns a Keyring:
//
//   - "file" (the default): each key in DIR/NAME.key (mode 0600, DIR 0700),
//     a JSON file whose seed is sealed with XChaCha20-Poly1305 under a key
//     derived from the passphrase with argon2id (fresh salt and nonce per
//     key, cost parameters stored in the file). The public key and address
//     are in clear, so List and Show need no passphrase; Add and Import ask
//     for it with confirm=true, Signer with confirm=false.
//   - "test": the same layout in DIR/test/, UNENCRYPTED. For tests and the
//     one-process dev node only; anyone who can read the files has the keys.
//   - "memory": the in-memory twin (NewInMemoryKeyring); nothing persists;
//   - others registered with RegisterKeyringBackend: "vault" when the
//     program imports security/vault.
//
// Key names are 1-64 characters of A-Z a-z 0-9 . _ - (ValidateName).
// Errors, wrapped with %w and checked with errors.Is:
//
//   - ErrBadName: the name is invalid (every method checks it first);
//   - ErrKeyExists: Add or Import under a taken name;
//   - ErrKeyNotFound: Show, Signer or Delete of a missing key;
//   - ErrBadKey: Import of a malformed private key;
//   - ErrBadPassphrase: the sealed key does not open, whether because the
//     passphrase is wrong or because the file was altered (the clear
//     fields are authenticated with the ciphertext);
//   - ErrBadKeyFile: the file is malformed in a way visible without the
//     passphrase (bad JSON, unknown version, address not matching the key);
//   - ErrEmptyPassphrase, ErrNoPassphrase: no usable passphrase to encrypt;
//   - ErrUnknownBackend: OpenKeyring got a backend it does not know.
//
// No error carries key material or a passphrase. Key files are written to
// a temporary file and hard-linked into place, so a key file is never seen
// half-written and two writers cannot both create the same name.
// Keyrings and LocalSigners are safe for concurrent use.
//
// EnvOrPromptPassphrase is the usual PassphraseFunc: $DSTT_KEYRING_PASSPHRASE
// if set, else a prompt with echo off on Linux, macOS and the BSDs.
package security
