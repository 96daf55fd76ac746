// Package rest is dstt's client gateway: a REST/JSON API served by the node
// process itself (`dstt start`, default 127.0.0.1:8080), described by the
// OpenAPI 3 document openapi.json (served at /v1/openapi.json).
//
//	POST /v1/txs              submit one signed tx or a batch (mode sync|commit)
//	GET  /v1/txs/{hash}       a committed tx's result
//	GET  /v1/kv/{key}         a value (?height= for an older one)
//	GET  /v1/kv/{key}/history its versions, newest first (?before=, ?limit=)
//	GET  /v1/events           Server-Sent Events of committed writes (?prefix=)
//	GET  /v1/status           chain id, latest height, mempool size
//	GET  /v1/identities/{a}   the identity address a acts for, and its key history
//	GET  /v1/gov/orgs         member orgs and k; GET /v1/gov/validators: the set
//	GET  /healthz, /readyz    liveness; readiness (caught up, enough peers)
//
// Prometheus metrics (GET /metrics) are served on their own address,
// Config.MetricsListenAddress (default 127.0.0.1:26661), never on the REST
// address: they are not authenticated. Options.Metrics adds series from
// elsewhere to the same page (the node's audit sinks), so a node has one
// metrics endpoint.
//
// # Submitting
//
// Txs go into the mempool in-process (Backend.CheckTx), not through
// CometBFT's HTTP RPC. A request's txs are first checked as a whole for
// what cannot depend on state, cheapest first: the body size and the
// number of txs, then every tx through types.ValidateTx with the chain's
// limits (asked of the node once, types.QueryParams: tx size, canonical
// encoding, chain id, signature count and lengths, signer order, op sizes),
// and only then the signatures, in parallel chunks through the node's
// verifier (so CheckTx then finds them cached), stopping at the first bad
// one. A request refused by the cheap checks costs no signature
// verification. If any check fails, the request gets a problem document
// naming the tx and nothing is submitted. The
// others go to the mempool in request order; in commit mode the request
// then waits for their blocks. Commit waits cost one map lookup per
// committed tx: the gateway follows blocks through a single event-bus
// subscription (the hub), whatever the number of waiting clients.
//
// A batch is not atomic: each tx is its own all-or-nothing transaction and
// gets its own outcome. A single tx ("tx" rather than "txs") that does not
// succeed gets a problem document instead of a result list.
//
// # Errors
//
// Every error is an RFC 9457 problem document (application/problem+json)
// with a stable code: a gateway code (api.Problem* constants: BAD_JSON,
// BODY_TOO_LARGE, RATE_LIMITED, ...) or, for a tx refused or failed, the
// tx result code name (CONFLICT, BAD_SIGNATURE, ...).
//
// # Events
//
// GET /v1/events streams every committed write whose key has the prefix,
// in commit order, each with id HEIGHT.INDEX.WRITE. A stream never skips:
// a client that falls behind is told so (EVENTS_LAGGED) and resumes with
// Last-Event-ID, reading the blocks it missed from the node's store.
//
// # Security and limits
//
// TLS 1.3 only, with optional or required client certificates
// (Config.TLS). A certificate that is sent must verify in the handshake;
// with ClientAuthRequire a missing one is refused per route
// (CLIENT_CERT_REQUIRED), so /healthz and /readyz answer probes without one. Bodies, batch sizes and headers are bounded; each client
// (its certificate, else its IP address) has a token-bucket rate limit.
//
// Client load cannot exhaust the node: open connections are capped in
// total (MaxOpenConnections) and per client IP (MaxConnectionsPerIP, an
// IPv6 client by its /64), and a connection over a cap is reset as it is
// accepted, holding nothing. Headers have ReadHeaderTimeout, a body
// ReadBodyTimeout after them, a response WriteTimeout (per write on an
// event stream, which may last for ever), an idle connection IdleTimeout.
// The deadlines are set per request, not as http.Server.ReadTimeout and
// WriteTimeout, which would cut event streams.
//
// What the gateway refuses itself for authentication (a failed TLS
// handshake, a read the Authorizer denied), every submission it refuses
// before admission (a tx that fails the node's stateless check or whose
// signature does not verify) and every tx the mempool's cache drops as a
// duplicate (which the application never sees) go to Options.SecurityLog,
// the node's security log, with the client's address as the entry's
// Endpoint. They are bounded (refusalLog): per client network and
// refusal, the first is recorded in full and the rest of the minute as one
// summary entry, with caps on the rate of full entries and on the client
// networks tracked (RefusalRecorder). Shutdown writes the pending
// summaries. The node routes the application's own refusals (CheckTx,
// queries) through the same bounds (RecordRefusal, or a RefusalRecorder
// of its own when no gateway serves); a query the gateway makes for a client carries
// the client's address in its context (ClientEndpoint).
// Reads pass through a ReadAuthorizer, the hook for RBAC; the default
// allows all. Submissions need none: txs are signed, and the engine
// decides what each signer may do.
//
// # Lifecycle
//
// New validates the Config; Start follows blocks and listens; Shutdown ends
// event streams and waits for other requests until its context ends. The
// gateway may start before the node (CometBFT's event bus runs from the
// node's construction); until the node has caught up, submissions get
// NOT_READY. A Gateway is safe for concurrent use.
package rest
