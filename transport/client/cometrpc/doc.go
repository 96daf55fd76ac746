// Package cometrpc is the Go SDK's transport over CometBFT's RPC: a
// client.Conn that submits with broadcast_tx_*, reads with abci_query
// (signed reads wrapped in types.QuerySigned) and follows committed writes
// from NewBlock events, reading blocks it missed from the node's store.
//
// It is its own package because CometBFT's RPC client links much of
// CometBFT (its RPC types, and through them p2p): package client, the
// gateway SDK, stays free of it. Importing cometrpc registers the tcp://
// scheme with client.Connect; New dials an address, NewFromRPC wraps any
// CometBFT rpc/client.Client (the in-process one in tests and tools).
//
// CometBFT's RPC is an operator port: no authentication, every block and
// tx readable, and on a chain with access control `dstt start` keeps it on
// loopback. Applications use the gateway (client.Connect, client.NewREST).
// Errors are package client's sentinels (ErrUnreachable, ErrNotFound,
// ErrUnauthorized, ErrQuery, chosen by the answer's code). A Client built
// here is safe for concurrent use.
package cometrpc
