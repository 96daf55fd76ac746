// Package keyring stores named ed25519 keys and hands out security.Signers
// for them; the CLI's keys live here.
//
// Open(backend, dir, passphrase) returns a Keyring:
//
//   - "file" (the default): each key in DIR/NAME.key (mode 0600, DIR 0700),
//     a JSON file whose seed is sealed with XChaCha20-Poly1305 under a key
//     derived from the passphrase with argon2id (fresh salt and nonce per
//     key, cost parameters stored in the file). The public key and address
//     are in clear, so List and Show need no passphrase; Add and Import ask
//     for it with confirm=true, Signer with confirm=false.
//   - "test": the same layout in DIR/test/, UNENCRYPTED. For tests and the
//     one-process dev node only; anyone who can read the files has the keys.
//   - "memory": the in-memory twin (NewInMemory); nothing persists;
//   - others registered with Register, the way database/sql drivers
//     register: "vault" when the program imports security/vault.
//
// Key names are 1-64 characters of A-Z a-z 0-9 . _ - (ValidateName).
// Errors, wrapped with %w and checked with errors.Is:
//
//   - ErrBadName: the name is invalid (every method checks it first);
//   - ErrKeyExists: Add or Import under a taken name;
//   - ErrKeyNotFound: Show, Signer or Delete of a missing key;
//   - security.ErrBadKey: Import of a malformed private key;
//   - ErrBadPassphrase: the sealed key does not open, whether because the
//     passphrase is wrong or because the file was altered (the clear
//     fields are authenticated with the ciphertext);
//   - ErrBadKeyFile: the file is malformed in a way visible without the
//     passphrase (bad JSON, unknown version, address not matching the key);
//   - ErrEmptyPassphrase, ErrNoPassphrase: no usable passphrase to encrypt;
//   - ErrUnknownBackend: Open got a backend it does not know.
//
// No error carries key material or a passphrase. Key files are written to
// a temporary file and hard-linked into place, so a key file is never seen
// half-written and two writers cannot both create the same name.
// Keyrings and the Signers they return are safe for concurrent use.
//
// Rename moves a key to a free name (crash-safe in the directory
// backends: the file is hard-linked, then the old name removed).
// BeginRotation is the local side of rotating a key to a successor:
// NAME.next until the RotateKey tx is committed, then Rotation.Finish keeps
// the old key as NAME.old-N and renames the successor to NAME (the vault
// backend's counterpart is vault.Client.KeyringRotation); the on-chain side
// is client.Client.RotateKey.
//
// EnvOrPromptPassphrase is the usual PassphraseFunc: $DSTT_KEYRING_PASSPHRASE
// if set, else a prompt with echo off on Linux, macOS and the BSDs.
package keyring
