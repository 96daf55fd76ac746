// Package abci is the thin adapter that drives dstt's block engine
// (package abci/engine) from CometBFT's ABCI 2.0.
//
// App translates and decides nothing: InitChain, CheckTx, PrepareProposal,
// ProcessProposal, FinalizeBlock and Commit become calls on the engine's
// write side (engine.Engine), with their results turned into CometBFT's
// response types (codes with the "dstt" codespace, events, validator
// updates); Info reports the engine's last committed height and app hash so
// CometBFT's handshake can replay. Query serves every read path through the
// engine's read side (engine.Reader), over committed state only.
//
// What is the adapter's own is node-local, never replicated: signed
// queries (types.QuerySigned) are checked here against the node's wall
// clock (DefaultQuerySkew) and a replay cache, then the signing key is
// resolved to its identity by Reader.Resolve; the hooks OnAuthFailure and
// OnCheckTxRejected feed the node's security log. Reads of keys "anyone"
// may not read need the signed form.
//
// Errors: Query never returns a Go error (that would close the client
// connection); the engine's ErrNotFound, ErrBadQuery/ErrNoHistory,
// ErrUnauthorized and ErrPruned (or storage.ErrPruned) become the codes
// NOT_FOUND, BAD_QUERY, UNAUTHORIZED and PRUNED, anything else INTERNAL.
// Commit returns the retention floor as CometBFT's retain_height
// (snapshot.go). The block calls
// return the engine's faults (a storage error, a height out of order) as Go
// errors, and CometBFT stops the node rather than diverge.
//
// App is safe for the way CometBFT's local client calls it (serialised);
// it is not safe for concurrent use otherwise.
package abci
