// Package participant is the Go SDK for a participant of a global
// transaction (gtx): a service that owns its own database and takes part in
// cross-organisation sagas and TCC transactions that a dstt chain
// coordinates. A Participant is an http.Handler: executors POST one signed
// branchapi.Request per branch operation, and it answers with a
// branchapi.Answer signed by the participant key registered on the chain,
// which the executor submits to the chain as it is.
//
// Usage: New(Config{ChainID, ID, DB, Signer, Executors}), CreateBarrierTable
// once, Handle each operation the participant's branches use (action and
// compensate for sagas; try, confirm and cancel for TCC), then serve it
// (behind TLS in production). Register functions before serving; after
// that a Participant is safe for concurrent use.
//
// # The barrier
//
// Every operation runs in one SQL transaction of the participant's
// database together with a row of the barrier table (DTM's branch
// barrier), keyed by (gid, branch, operation):
//
//   - a repeated operation finds its row and is not run again: the answer
//     is the first one (the same result, the same signature);
//   - a compensation (cancel) whose action (try) never took effect first
//     claims the action's row: nothing is undone, and the action, should it
//     arrive late, finds the row and answers failed without running (no
//     "hanging" reservation);
//   - a business failure (Failed) or NotYet rolls back the function's writes
//     with the row, so asking again runs the function again;
//   - concurrent requests for one operation (two executors) wait on the
//     row's unique key: one runs, the other returns its answer.
//
// The function therefore sees each (gid, branch, operation) take effect at
// most once, and only if its undo has not already been decided.
//
// # Errors
//
// A BranchFunc's error is a fault, not an answer: the transaction rolls
// back, ServeHTTP answers 503 and the executor asks again. Refused requests
// (unsigned, an untrusted or stale signature, another chain or participant,
// an unknown operation) change nothing and get 4xx with a stable code
// ("auth", "request", "operation", "body", "method").
package participant
