// Package security is how dstt signs: the Signer interface every signing
// key offers (BatchSigner when it can sign several messages in one round
// trip), LocalSigner (an ed25519 key in memory; GenerateKey,
// NewLocalSigner, CheckPrivKey), SignTx, which signs a tx body with one or
// more Signers in the canonical encoding, and RotateKeyOp, which builds the
// op that moves an identity to a new key (with the new key's proof).
//
// It is the light signer a client links: no files, prompts, Vault,
// CometBFT or curve25519 batch arithmetic. The rest of the concept lives
// in sub-packages, each with its own dependencies:
//
//   - security/verify: ZIP-215 ed25519 verification, single and batched,
//     and the verified-tx cache (what validators and the gateway run);
//   - security/keyring: named keys at rest (file, test and memory
//     backends, passphrases, Rename);
//   - security/vault: Vault's transit signer, the "vault" keyring backend
//     and envelope encryption (docs/KEYS.md).
//
// The CometBFT validator signer is consensus/privval. Errors: ErrBadKey
// (a malformed private key), ErrNoSigners (SignTx without signers). A
// LocalSigner is safe for concurrent use.
package security
