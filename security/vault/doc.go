// Package vault is dstt's HashiCorp Vault integration: a Client that logs
// in (token or AppRole) and keeps its token renewed, the transit engine's
// ed25519 keys (TransitKey; TransitSigner, a security.Signer and
// security.BatchSigner whose private key never leaves Vault), the "vault"
// keyring backend, and envelope encryption of values under a Vault key
// encryption key (SealEnvelope, OpenEnvelope; TransitKeyWrapper over Vault,
// NewInMemoryKeyWrapper as the in-memory twin).
//
// Importing the package registers the "vault" backend with
// keyring.Open (keyring.Register), the way a
// database/sql driver registers itself; its configuration comes from
// DIR/vault.json and the environment (ConfigForKeyring). Programs that do
// not import it (a client SDK) do not link Vault's API client.
//
// Errors wrap one of ErrConfig, ErrUnreachable, ErrSealed, ErrDenied,
// ErrNotFound, ErrRequest, ErrResponse (test with errors.Is) and name the
// operation and the Vault path, never a token or key material; the
// keyring's errors are package keyring's (ErrKeyNotFound, ErrKeyExists, ...).
// A Client is safe for concurrent use; Close stops the token renewal.
// Setup and operations are in docs/KEYS.md.
package vault
