// Package client is dstt's Go client: it reads chain info, signs and submits
// transactions, and queries keys, history and tx results over CometBFT's RPC
// (HTTP to a remote node, or in-process).
//
// A Client is safe for concurrent use. Calls take a context and return
// errors wrapped around this package's sentinels:
//
//   - ErrUnreachable: the node did not answer (is `dstt start` running? is
//     --node right?);
//   - ErrRejected: the tx was refused or failed; the *TxError inside carries
//     the stable result code (types.Code) and the node's message;
//   - ErrNotFound: a query found no such key or tx.
//
// Submit signs a body built by the caller with the given signers. It fills
// in the chain id and, when zero, a random nonce and a valid_until_height a
// fixed number of blocks ahead of the node's latest height.
package client
