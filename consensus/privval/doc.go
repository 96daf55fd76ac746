// Package privval is a validator's consensus key held outside the node:
// ValidatorSigner is a CometBFT types.PrivValidator that signs with any
// security.Signer (a vault.TransitSigner in production, so the key never
// leaves Vault) and never double-signs. Serve hands it to a node over
// CometBFT's remote-signer protocol; `dstt signer start` is a thin command
// over it.
//
// It lives beside consensus, not in security, because it is CometBFT's
// contract it implements (votes, proposals, the height/round/step rules and
// CometBFT's sign-state file) and it links CometBFT's types and privval
// packages; security stays a light package a client SDK can import.
//
// # Double-sign guard
//
// Before it hands out a signature the signer makes the height/round/step
// (HRS) and the signed bytes durable in a state file (written to a
// temporary file, fsynced, renamed, directory fsynced). A request for an
// HRS below the last one is refused (ErrDoubleSign); for the same HRS it
// returns the stored signature when the bytes are the same or differ only
// in the timestamp (CometBFT re-asks after a crash), and refuses otherwise.
// The state file has the format of CometBFT's priv_validator_state.json, so
// a validator moving from a file key to Vault copies its state across.
//
// Call order: InitSignState once when the validator is set up (never after
// a signer has run: ErrNoSignState otherwise), then NewValidatorSigner,
// which locks the state file against other signer processes
// (ErrSignStateLocked) until Close. While Vault is sealed or unreachable a
// sign request is held for Config.RetryFor, then fails with
// ErrVaultUnavailable, which Serve does not answer (an error answer is
// final for the node): it drops the connection and redials, and the node
// asks again, so a seal of any length ends in a signature, never a stalled
// round. After a failed state write the
// signer refuses everything (ErrSignerBroken) until restarted. A
// ValidatorSigner is safe for concurrent use; requests are serialised.
//
// # Serving a node
//
// The node listens on its priv_validator_laddr and the signer dials it.
// Parse the address with consensus.ParseSignerAddress (the one parser of
// its forms), turn it into a Dialer with NodeDialer, then run Serve until
// its context is done. Serve answers the node's requests one at a time
// with CometBFT's request handler (a refused request is an error answer
// and a log line, not a dropped connection); when the connection fails or
// stays silent for 15 s (the node pings every ~3.3 s) it redials, backing
// off up to 0.5 s between attempts, for as long as the context lives. A
// failed handshake (ErrHandshake: for noise:// a peer id that does not
// match on either side, seen as a node that hangs up before asking
// anything) is logged as an error every 10 s; a node that stays
// unreachable is warned about after 30 s.
// Cancelling the context closes the connection and Serve returns nil.
package privval
