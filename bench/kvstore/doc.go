// Command kvstore is the reference side of the side-by-side benchmark
// (bench/compare.sh): CometBFT v0.40's example kvstore application, on a
// node home made by dstt's consensus package or `dstt testnet init` (the
// harness then tunes it as the kvstore's operators do: indexer "null",
// timeout_commit 0s), loaded through
//
//	load    CometBFT's HTTP JSON-RPC, as a client of a `kvstore node`
//	        process: with --pipeline N, workers send broadcast_tx_sync and go
//	        on once CheckTx answers (at most N txs uncommitted), commits
//	        counted from the NewBlock events on the websocket; without it,
//	        each request waits for its txs' commits;
//	inproc  the in-process path: the load generator runs inside the node's
//	        process and submits through the in-process RPC client.
//
// compare prints the runs of one harness output directory, the goals table
// (dstt against the better of the kvstore's 1-tx and batched runs) and
// every system's config. Usage:
//
//	kvstore init    --home DIR --rpc-laddr tcp://127.0.0.1:26757 --p2p-laddr tcp://127.0.0.1:26756
//	kvstore node    --home DIR
//	kvstore load    --rpc tcp://127.0.0.1:26757 [--pipeline N] [load flags] [-json]
//	kvstore inproc  --home DIR [load flags] [-json]
//	kvstore compare --dir OUT
//
// It owns only the reference side of the comparison; it never runs dstt's
// engine, and nothing imports it.
package main
