// Package types holds dstt's wire types and the rules that belong to them.
//
// The messages in tx.pb.go and gtx.pb.go are generated from
// proto/dstt/v1/tx.proto and gtx.proto with gogoproto (`make proto` regenerates them; the generated code is committed).
// Around them this package defines:
//
//   - the signing rule: SignBytes is a domain-separated SHA-256 of the chain id
//     and the body bytes exactly as sent. Validators never re-encode a body;
//   - identities: an Address is the first 20 bytes of SHA-256 of an ed25519
//     public key, written as 40 lowercase hex digits;
//   - TxHash, the SHA-256 of the tx bytes (the same hash CometBFT uses, so a
//     hash from `dstt` and from CometBFT's /tx RPC agree);
//   - the result codes every transaction outcome carries (codes.go). Codes
//     are stable: a number is never reused for another meaning;
//   - the query contract: the paths a node answers (paths.go), the signed
//     query's sign bytes (query.go), and each answer's type (ChainInfo and
//     Params, PolicyView, CheckRequest/CheckResult, IdentityView, OrgsView,
//     ValidatorView); a refused query carries a Code, never text to parse;
//   - the event types and attribute keys a committed tx emits (events.go);
//   - global transactions (gtx.go): their limits, query paths, RBAC
//     action, and GtxAnswerSignBytes, what a participant signs.
//
// It is the package a client imports to speak to a node: it links no
// server code, and the server (abci, the gateway) uses these definitions,
// never copies of them.
//
// Nothing in this package does I/O; everything is safe for concurrent use.
package types
