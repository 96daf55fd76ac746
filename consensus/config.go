package consensus

import (
	"time"

	cfg "github.com/cometbft/cometbft/config"
)

// Values NewConfig sets on top of CometBFT's DefaultConfig; each says why.
const (
	// TimeoutCommit is the pause after a commit before the next height starts (CometBFT's
	// block pacing; default 1s). Zero, with create_empty_blocks = false: an idle chain
	// starts the next height as soon as a tx arrives and commits it at once, and a busy
	// chain still batches, because every tx that arrives while a block is in consensus
	// goes into the next one (docs/PERFORMANCE.md, "Block pacing": light-load p50 on one
	// validator 61 ms with 100ms and 7.4 ms with 0 on an idle machine, half or less on
	// 1 and 4 validators under load; saturated throughput within the run-to-run spread).
	TimeoutCommit time.Duration = 0

	// TxIndexer is CometBFT's tx indexer ("null": off; see NewConfig).
	TxIndexer = "null"

	// PeerGossipSleep is how long the consensus reactor sleeps when it has nothing to
	// send a peer (default 100ms). 5ms cut 4-validator latency on one host ~400→~90ms.
	PeerGossipSleep = 5 * time.Millisecond

	// Round-step timeouts only matter when a validator is slow or down. The one that
	// decides failover latency is timeout_propose: a dead validator is the round-0
	// proposer of one height in N, and that height waits timeout_propose before round 1's
	// proposer commits it. Measured on 4 validators with one killed (BenchmarkFailoverLatency,
	// docs/PERFORMANCE.md), commit latency p95: CometBFT's defaults (3s) 4.3s; 1s 1.47s;
	// 700ms 1.14s; 500ms 0.91s. 600ms keeps p95 near 1s, under the 1.5s goal, and still
	// leaves a proposer 600ms to build and gossip a full block (PrepareProposal
	// re-validates every tx: for 10k txs about what the engine's FinalizeBlock takes,
	// 0.3-0.4s here); a proposal late anyway costs one round, whose timeout grows by the
	// delta, never safety. Prevote/precommit timeouts only run when votes
	// split, which a crashed validator does not cause.
	timeoutPropose        = 600 * time.Millisecond
	timeoutProposeDelta   = 200 * time.Millisecond
	timeoutPrevote        = 200 * time.Millisecond
	timeoutPrevoteDelta   = 100 * time.Millisecond
	timeoutPrecommit      = 200 * time.Millisecond
	timeoutPrecommitDelta = 100 * time.Millisecond

	// Mempool: room for bursts of batched submits (a 10k-tx batch fits twice over), a
	// dedup cache larger than the pool, and a per-tx cap far above any sane tx.
	mempoolSize        = 20_000
	mempoolMaxTxsBytes = 256 << 20 // 256 MiB
	mempoolCacheSize   = 100_000
	mempoolMaxTxBytes  = 1 << 20 // 1 MiB
	// rpcMaxBodyBytes lets a max-size tx through the HTTP RPC hex-encoded (2x) plus JSON.
	rpcMaxBodyBytes = 3 << 20

	// p2pRate lifts the per-peer throttle (default 5 MB/s) so 8 MiB blocks gossip quickly.
	p2pRate = 20 << 20

	// P2PFlushThrottle is how long a peer connection may hold written messages before
	// flushing them (default 10ms). Every consensus step (proposal, block parts, prevote,
	// precommit) is a hop that waited up to that long. It only changes when this node
	// writes, so nodes with other settings still interoperate. Measured on 4 validators
	// on one host (docs/PERFORMANCE.md, "Against the tuned kvstore").
	P2PFlushThrottle = time.Millisecond
	// max_packet_msg_payload_size stays CometBFT's 1 KiB: a peer refuses packets larger
	// than its own setting, so raising it would cut nodes off from peers whose homes
	// were made before.
)

// NewConfig returns the CometBFT config InitHome writes for opts (defaults applied),
// rooted at homeDir, or ErrInvalidOptions as Validate reports it. Starting from
// cfg.DefaultConfig(), it sets:
//
//   - moniker, p2p.laddr, rpc.laddr, db_backend and the Prometheus address from opts;
//     log_level "info";
//   - the transport and peers from opts: p2p.persistent_peers (tcp), or [p2p.libp2p]
//     enabled with the peers as persistent bootstrap_peers (libp2p);
//   - consensus: create_empty_blocks = false (blocks only when there are txs; the app
//     hash must not change on an empty block, so after a block with txs CometBFT makes
//     exactly one more, the block whose header carries the new app hash), timeout_commit
//     = TimeoutCommit (0),
//     peer_gossip_sleep_duration = PeerGossipSleep, shorter round-step timeouts;
//   - mempool: flood type with recheck, larger size and cache, 1 MiB max tx;
//   - p2p: pex = false (a consortium lists its validators in persistent_peers rather
//     than discovering strangers; it also stops the address book's background writer,
//     which CometBFT does not wait for on shutdown), addr_book_strict = false and
//     allow_duplicate_ip = true so several nodes on 127.0.0.1 can peer, higher
//     send/recv rates, a 1ms flush throttle;
//   - filter_peers = true: CometBFT asks the application (ABCI Query
//     /p2p/filter/id/ID) whether to admit each peer, and the node re-asks
//     after every block (peeradmission.go);
//   - rpc.max_body_bytes for a 1 MiB tx; instrumentation.prometheus_listen_addr on
//     loopback (Prometheus stays off);
//   - tx_index.indexer = "null" and ABCI responses kept: dstt keeps every tx's result
//     under its hash in its own store (the /tx ABCI query, `dstt query tx`,
//     GET /v1/txs/{hash}), so CometBFT's index would only duplicate it, at a cost in
//     writes and compactions under load. /block_results still works on the operator's
//     RPC; /tx by hash and /tx_search answer that indexing is disabled. An operator
//     who wants them sets indexer = "kv": it indexes only tx.hash and tx.height, since
//     the app's events carry no indexed attribute (a key name is data too).
//
// The ABCI app runs in-process (NewNode passes it), so proxy_app and abci are unused.
func NewConfig(homeDir string, opts InitOptions) (*cfg.Config, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	c := cfg.DefaultConfig()
	c.SetRoot(homeDir)

	c.Moniker = opts.Moniker
	c.DBBackend = opts.DBBackend
	c.LogLevel = cfg.DefaultLogLevel
	c.LogFormat = cfg.LogFormatPlain

	c.PrivValidatorListenAddr = opts.PrivValidatorListen
	c.RPC.ListenAddress = opts.RPCListen
	c.RPC.MaxBodyBytes = rpcMaxBodyBytes
	c.RPC.Unsafe = false

	c.FilterPeers = true // peer admission from the application (peeradmission.go)
	c.P2P.ListenAddress = opts.P2PListen
	c.P2P.PexReactor = false
	c.P2P.AddrBookStrict = false
	c.P2P.AllowDuplicateIP = true
	c.P2P.SendRate = p2pRate
	c.P2P.RecvRate = p2pRate
	c.P2P.FlushThrottleTimeout = P2PFlushThrottle
	if err := applyPeers(c, opts.Transport, opts.Peers); err != nil {
		return nil, err
	}

	c.Mempool.Type = cfg.MempoolTypeFlood
	c.Mempool.Recheck = true
	c.Mempool.Broadcast = true
	c.Mempool.Size = mempoolSize
	c.Mempool.MaxTxsBytes = mempoolMaxTxsBytes
	c.Mempool.CacheSize = mempoolCacheSize
	c.Mempool.MaxTxBytes = mempoolMaxTxBytes

	c.Consensus.CreateEmptyBlocks = false
	c.Consensus.CreateEmptyBlocksInterval = 0
	c.Consensus.TimeoutCommit = TimeoutCommit
	c.Consensus.SkipTimeoutCommit = false
	c.Consensus.PeerGossipSleepDuration = PeerGossipSleep
	c.Consensus.TimeoutPropose = timeoutPropose
	c.Consensus.TimeoutProposeDelta = timeoutProposeDelta
	c.Consensus.TimeoutPrevote = timeoutPrevote
	c.Consensus.TimeoutPrevoteDelta = timeoutPrevoteDelta
	c.Consensus.TimeoutPrecommit = timeoutPrecommit
	c.Consensus.TimeoutPrecommitDelta = timeoutPrecommitDelta
	// double_sign_check_height stays 0: with one validator every recent block carries our
	// own signature, so any positive value would refuse every restart.

	c.Storage.DiscardABCIResponses = false
	// No CometBFT tx index: dstt's own tx records answer by hash. Were an operator to set
	// "kv", it would index tx.hash, tx.height and the events' attributes marked Index;
	// abci's execResult marks none (TestEventsIndexNoValues), so nothing names a key.
	c.TxIndex.Indexer = TxIndexer
	c.Instrumentation.PrometheusListenAddr = opts.PrometheusListen
	return c, nil
}
