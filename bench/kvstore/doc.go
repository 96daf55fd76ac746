// Command kvstore is the reference side of the side-by-side benchmark
// (bench/compare.sh): CometBFT v0.40's example kvstore application, on a
// node home made by dstt's consensus package (so it runs with exactly the
// CometBFT config a dstt node runs with), loaded through
//
//	load    CometBFT's HTTP JSON-RPC (broadcast_tx_sync, commits seen on
//	        the websocket), as a client of a `kvstore node` process;
//	inproc  the in-process path: the load generator runs inside the node's
//	        process and submits through the in-process RPC client.
//
// It also prints the comparison table (compare). Usage:
//
//	kvstore init   --home DIR --rpc-laddr tcp://127.0.0.1:26757 --p2p-laddr tcp://127.0.0.1:26756
//	kvstore node   --home DIR
//	kvstore load   --rpc tcp://127.0.0.1:26757 [load flags] [-o json]
//	kvstore inproc --home DIR [load flags] [-o json]
//	kvstore compare --a A.json --b B.json --c C.json [--light L.json]
//
// It owns only the reference side of the comparison; it never runs dstt's
// engine, and nothing imports it.
package main
