// Package engine is dstt's replicated state machine: a pure, deterministic
// block engine with a write side (the block) and a read side (a Reader over
// committed state). The ABCI adapter in package abci drives it; nothing in
// here knows CometBFT, a socket, a file or a clock.
//
// # Write side
//
// Engine turns a decided block (height, time, tx bytes) into one result per
// tx and a new app hash. It uses nothing but its inputs and its
// storage.Store: no clock, randomness, goroutines or map-order output, so
// every honest validator computes the same bytes. Call order:
//
//	NewEngine(store, verifier)
//	InitChain(chainID, appState)        once, on a new chain
//	loop:
//	    CheckTx(tx)                     any number, against committed state
//	    PrepareProposal / ProcessProposal
//	    FinalizeBlock(block)            stages the block's writes
//	    Commit()                        writes them in one atomic batch
//
// # Read side
//
// Engine.Reader returns the Reader every query goes through: Get, History,
// TxResult, ChainInfo, Policy/PolicyView, PolicyReadable, MayReadPolicy,
// CanRead, Check, Resolve (a signed query's key to the identity it reads
// as, by the same rule that maps a tx's signer), Identity, Validators,
// Orgs, AuditEntries and AuditHead. The Reader and CheckTx see committed
// state only: FinalizeBlock works on the block's own copies of the policy
// and key map, which Commit promotes after the store holds the block
// (staging.go). A query between FinalizeBlock and Commit therefore sees the
// previous block's policy. AuditSource reads the committed audit chain
// straight from a store, for the audit sinks: only entries whose commit
// time is recorded (committime.go); TxResults reads committed tx results
// the same way, for the node's own gateway. CheckAudit checks a store's audit chain
// against its last app hash before a node serves it.
//
// Neither Engine nor Reader is safe for concurrent use; CometBFT's local
// client serialises the ABCI calls. The Verifier the engine is given may
// verify in parallel and cache results (CachedVerifier), as long as its
// answers equal verify.Signature's; PlainVerifier is the uncached twin.
//
// # Transactions
//
// A tx is all-or-nothing. The engine checks, in order: encoding and size
// limits, chain id, signatures (all must verify; the first signer is the
// actor), the replay window (height <= valid_until_height <= height +
// tx_window), that the tx hash was never committed, then the ops. A check op
// compares the key's version before the tx with the expected one (zero =
// must not exist); puts and deletes are buffered and applied only if every
// check passes. Any failure yields a stable types.Code and changes no user
// key. Every authentic tx (signatures verified) leaves a record of its result
// under its hash, so its status can be queried and it can never be replayed.
//
// # State and app hash
//
// All state lives in one versioned store, one namespace per byte prefix:
// 'k' user keys, 't' tx results, 'p' genesis params, 'r' RBAC rules and
// grants, 'i'/'I' key-rotation records, 'o' member orgs, 'v' validators,
// 'e' evidence, 'n' registered P2P nodes (peer admission, nodes.go), 'a' audit entries, 'h' the state hash and audit head,
// 'c' commit times of blocks with audit entries, 's' the settled audit head,
// 'T' the time of each block that wrote anything (retention.go), 'D' the
// last snapshot height and its state digest (snapshot.go),
// 'P' gtx participants, 'G' gtx definitions, 'g' gtx states, 'W' open gtxs
// (gtx.go).
// Writes get the version (height, tx index). The state hash is a hash chain
// over each block's state writes (audit records, commit times, block times,
// the digest record and the settled head excluded), except at a snapshot
// height, where it is a digest of the whole state (snapshot.go); the app
// hash is
// audit.AppHash(state hash, audit head), so the validators sign the audit
// chain's head with every block. A block that writes nothing keeps both, so
// empty blocks never change the app hash (CometBFT's
// create_empty_blocks=false depends on this).
//
// # Errors
//
// Bad txs get codes (types.Code), and a failure that leaves a stored
// result also gets a types.Reason: what is hashed holds codes and
// structured fields, never words. Words are rendered outside every hash
// (Outcome.Log for ExecTxResult.log and CheckTx; Reader.TxResult's Log for
// status queries), so rewording a message cannot fork the chain.
//
// Faults return Go errors wrapping this package's sentinels (ErrHeight,
// ErrStaged, ...) or storage's; the adapter returns them to CometBFT, which
// stops the node rather than diverge. The sentinels' text keeps the
// "abci:" prefix clients have always seen. A storage error in FinalizeBlock or
// Commit is such a fault: it is never turned into a result or an app hash.
//
// Reader methods return ErrNotFound / ErrBadQuery / ErrNoHistory /
// ErrUnauthorized / ErrPruned, which abci.App.Query maps to the codes
// NOT_FOUND, BAD_QUERY, UNAUTHORIZED and PRUNED.
package engine
