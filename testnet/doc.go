// Package testnet generates and inspects a local multi-validator dstt network, and holds
// the end-to-end fault tests that run it as real processes.
//
// # Layout
//
// Generate writes DIR (default testnet/out):
//
//	DIR/testnet.json     the manifest: chain id, transport, threshold, base port, and per
//	                     node its name, org, home, addresses, node/libp2p IDs, validator
//	                     key and admin address (Network, read back with Load)
//	DIR/node1..nodeN     ordinary dstt homes (consensus.Home): `dstt start --home DIR/nodeI`
//	DIR/nodeI/dstt.pid   while the scripts run the node (PIDFile)
//	DIR/nodeI/dstt.log   the node's output across restarts (LogFile)
//
// Node i (1-based) listens on 127.0.0.1 at BasePort+10(i-1) (P2P; UDP/QUIC with libp2p),
// +1 (RPC), +2 (Prometheus, off), +3 (REST gateway) and +4 (the gateway's metrics):
// distinct ports, so N nodes share one host. The default BasePort, 26700, lies below
// the host's ephemeral port range (DefaultBasePortFor moves it where the range covers
// it), and Generate checks that a node could bind every port now. All N
// validators are in one genesis with equal power; node i's validator key and its
// test-keyring key "dev" make up organisation org i (app_state orgs), every "dev" key is
// a genesis admin, and governance needs admins of k distinct orgs (Threshold; 0, the
// default, is a majority of the member orgs at the time), and each node's P2P node ID
// is registered for its org (peer admission: nodes refuse unregistered peers). Every
// node lists all
// the others as peers: persistent_peers on CometBFT's TCP transport, persistent
// [p2p.libp2p] bootstrap_peers on the go-libp2p one. The CLI (`dstt testnet init`) also
// writes each home's client.json, so `dstt --home DIR/nodeI tx put k v` signs with org
// i's admin key and talks to node i.
//
// AddNode adds DIR/nodeK for a new organisation: the chain's genesis, the next ports,
// every existing node as a peer. The other nodes refuse it until a governance tx signed
// by k org admins admits its org and the org's admin registers its node ID (dstt node
// register); then it runs as a full node until governance admits its validator key.
//
// # Calls
//
//	nw, err := testnet.Generate(testnet.Options{Validators: 4})  // ErrExists, ErrPortInUse, ErrInvalidOptions
//	nw, err := testnet.Load(dir)                                  // ErrNotFound
//	nw, node, err := testnet.AddNode(dir, testnet.AddNodeOptions{})
//	statuses := testnet.Status(ctx, nw)          // RPC /status + /net_info + pid file, per node
//	h, err := testnet.Agreement(ctx, nw, statuses) // same block at the lowest common height?
//	q, err := testnet.CheckQuorum(ctx, nw, statuses, testnet.DefaultStallAfter) // power online; halted?
//	statuses, q, err := testnet.Observe(ctx, nw, testnet.DefaultStallAfter) // both; a stall is watched first
//	err = testnet.WaitReady(ctx, nw)             // every running node peered and at the chain's height
//
// None of these starts a process: the scripts next to this file do (up.sh, down.sh,
// status.sh, kill.sh, restart.sh, logs.sh; see docs/TESTNET.md), and so do the tests.
// Functions are safe for concurrent use on distinct directories; Generate and AddNode
// on one directory must not run concurrently.
//
// # Tests
//
// The end-to-end tests (skipped with -short) build cmd/dstt, generate a network on a
// random free port range in a temp dir, and run each node as a child process:
// TestTCPNetwork (issue tests 1, 2, 3), TestLibP2PNetwork (6, 3), TestGovernance (4),
// TestDoubleSignEvidence (5), TestScripts (the scripts as the docs use them).
// BenchmarkFailoverLatency measures commit latency with one of four validators down
// (docs/PERFORMANCE.md). Every wait is on a condition with a deadline; the only timed
// windows are the ones whose point is that nothing happens (no block without quorum) or
// that measure (the benchmark).
package testnet
