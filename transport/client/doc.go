// Package client is dstt's Go SDK: it signs and submits transactions,
// reads keys, history and tx results, follows committed writes, and runs
// interactive transactions, against one node, over its REST gateway
// (Connect, NewREST: http(s)://, the default) or another transport, a Conn
// (package cometrpc: CometBFT's RPC, tcp://, registered with RegisterDialer
// when imported; NewWithConn takes any Conn). Connect picks by the
// address's scheme and goes to the gateway unless the address names a
// registered scheme (Connect("") is DefaultAddress). The package links no
// server code: the wire contract (types, transport/api) and the signer
// (security) only; a test keeps it so. The gateway is the client interface:
// it authenticates reads and bounds what clients send. CometBFT's RPC is
// an operator port: no authentication, every block and tx readable, and
// on a chain with access control `dstt start` keeps it on loopback.
//
// A Client is safe for concurrent use. Calls take a context and return
// errors wrapped around this package's sentinels (test with errors.Is):
//
//   - ErrUnreachable: the node did not answer (is `dstt start` running? is
//     the address right?); ErrTLS, which wraps it: the TLS handshake failed
//     (the node's CA, a client certificate, http against https), and the
//     message says what to check;
//   - ErrRejected: the tx was refused or failed; the *TxError inside
//     carries the stable result code (types.Code), the stage ("check" or
//     "deliver") and the node's message;
//   - ErrNotFound, ErrUnauthorized, ErrQuery: a read found nothing, was not
//     allowed, or was malformed;
//   - ErrBusy: the node is overloaded or not ready (mempool full, rate
//     limited, catching up): retry later; ErrCommitTimeout: admitted, not
//     yet committed;
//   - ErrContention: Txn gave up after MaxAttempts conflicts.
//
// Over REST an error that comes from a problem document also wraps the
// *api.Problem (errors.As), with its stable code.
//
// # Submitting
//
// Submit signs a body with the given signers (or the client's, WithSigner)
// and waits for its block; it fills in the chain id and, when zero, a
// random nonce and a valid_until_height DefaultValidFor blocks ahead.
// BroadcastCommit and BroadcastSync send signed bytes; BroadcastBatch sends
// many in one request and returns one api.TxOutcome per tx.
//
// # Reading
//
// With a reader (WithReader, SetReader, or the first WithSigner key) every
// read is signed, so keys only some readers may read can be read; the node
// checks the signature and the reader's permission. Signed reads are
// single-use: the client gives repeats of one query distinct timestamps.
//
// Identity (the identity a key acts for and its key history) is served by
// the gateway too (GET /v1/identities/{address}), as are the governance
// views through Raw (types.QueryOrgs, types.QueryValidators), and the
// global-transaction reads (Gtx, GtxList, GtxPending, Participant; gtx.go,
// with BeginGtx, RegisterParticipant and AwaitGtx); other raw paths need
// CometBFT's RPC.
//
// # TLS
//
// An https:// gateway is verified against the system's roots, or the CA
// and client certificate of TLSFiles.Config passed with WithTLSConfig.
//
// # Interactive transactions
//
// Txn(ctx, fn) runs fn against a snapshot: Txn.Get reads at the height of
// the first read and records each version; Put and Delete are buffered.
// The commit is one tx that checks every version read (a `check` op) and
// applies the writes, all or nothing. If a key read has changed since, the
// node aborts it with CONFLICT and Txn runs fn again on a fresh snapshot,
// after a pause drawn uniformly from [0, base·2^(attempt-1)) capped at
// MaxBackoff, where base grows with the conflict rate this client has seen
// recently: under contention retries spread out, and without it they are
// immediate. After MaxAttempts the error wraps ErrContention and the last
// CONFLICT. fn must be safe to run more than once and should do nothing
// but reads and writes through the Txn.
//
// # Events
//
// Subscribe(ctx, prefix, opts) delivers every committed write under a key
// prefix in commit order, with ids HEIGHT.INDEX.WRITE. It reconnects on
// its own and resumes after the last position seen, so nothing is skipped
// or repeated; opts.After / FromHeight resume a previous subscription.
package client
