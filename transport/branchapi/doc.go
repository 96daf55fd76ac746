// Package branchapi is the HTTP contract between an executor and a
// participant of a global transaction (gtx): the request that asks the
// participant to run one branch operation, the answer it returns, and how
// the executor authenticates the request. It holds data types and pure
// functions only, so an executor and a participant service can import it
// without each other's code.
//
// One request is one POST of a JSON Request to the participant's endpoint
// (the URL registered with the participant on the chain). The executor
// signs it with an ed25519 key of a consortium member: the headers
// HeaderKey (base64 public key), HeaderTime (Unix milliseconds) and
// HeaderSignature (base64 signature of RequestSignBytes over the chain id,
// that time and the exact body bytes). A participant accepts a request
// only from keys it was configured to trust, within MaxClockSkew of its
// own clock (VerifyRequest). A replayed request inside that window can do
// no harm: every operation is idempotent at the participant (its branch
// barrier), so a replay returns the answer already given.
//
// The participant answers 200 with a JSON Answer whose Outcome is
// OutcomeSucceeded or OutcomeFailed (definite answers, signed by the
// participant's key in the engine's sign bytes, so the executor submits
// them to the chain as they are) or OutcomeNotYet (try again later;
// unsigned and never submitted). Any other status or body is not an
// answer: the executor retries with backoff.
package branchapi
