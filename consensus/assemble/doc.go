// Package assemble wires one dstt node: the Pebble store, the block engine
// and its ABCI adapter, the node security log and its hooks, the guard that
// keeps CometBFT's RPC on loopback when access control is on, the in-process
// CometBFT node, the audit sinks and the REST gateway (with its security log
// and metrics: the gateway's metrics address also serves the sinks'). `dstt start` and every in-process test node call New, so
// tests run the composition that ships (hashicorp/raft's NewRaft with
// in-memory stores in tests is the model).
//
// It lives under consensus/ because it is the node's lifecycle around the
// CometBFT node that package consensus embeds; it is a sub-package because
// consensus itself holds no business rules and imports no dstt package,
// while the assembler must import them all (abci, audit, storage,
// transport/rest). Nothing imports assemble but cmd/dstt and test helpers.
//
// # Call order
//
//	cfg := assemble.DefaultConfig()
//	cfg.Home = home                // an initialised home (consensus.InitHome)
//	n, err := assemble.New(cfg)    // everything built; the gateway listens; consensus not started
//	addr := n.GatewayURL()         // known now (also for port 0)
//	err = n.Run(ctx)               // Start, wait for ctx or the node to quit, Stop
//
// or Start and Stop by hand. A home set to join its chain by state sync
// (statesync.enable, no state yet) is first brought to the snapshot height
// by JoinByStateSync(ctx, cfg), which `dstt start` calls before New (a
// no-op for any other home); New then builds the node that block-syncs the
// rest. New records config_loaded and node_started in
// the node security log, starts the configured audit sinks (HOME/config/
// audit.toml) and the gateway; Start starts CometBFT (p2p, RPC, consensus).
// Stop is idempotent and tears down in reverse: gateway, CometBFT node,
// sinks, node log (node_stopped recorded), store. Always Stop a Node that
// New returned. A Node starts once; to restart, Stop it and call New again.
//
// # What is wired
//
//   - abci.App's OnCheckTxRejected and OnAuthFailure record to the node
//     security log (audit.NodeLog), unless audit.toml disables it, always
//     bounded: once the gateway serves with that log, through its
//     recording (rest.Gateway.RecordRefusal), before that and on a node
//     without a gateway through the node's own (rest.RefusalRecorder).
//   - The gateway's SecurityLog is that node log (Config.Gateway may set
//     another), its Verifier the engine's cached verifier, its TxResults
//     the engine's committed tx results.
//   - With access control on (genesis names admins or orgs), CometBFT's RPC
//     must listen on loopback (consensus.RequireLoopbackRPC) unless
//     Config.UnsafePublicRPC; then a warning goes to Config.Console and an
//     entry to the node log.
//
// # Errors
//
//   - New: ErrInvalidConfig (every problem listed); consensus.ErrNotInitialised;
//     audit.ErrStoreMismatch when the stored consensus audit chain does not
//     match the last committed app hash (engine.CheckAudit), or that app
//     hash is not the one CometBFT's state holds for the same height
//     (consensus.CommittedAppHash); both run before CometBFT's handshake,
//     so a tampered store is never served;
//     consensus.ErrPublicRPC (with what to do); audit.ErrNodeLogTruncated
//     (with what to do) unless Config.AcceptTruncatedNodeLog; a gateway
//     listen failure, except rest.ErrListenSkipped, which is a warning on
//     Console and leaves the node without a gateway (Gateway returns nil).
//   - Start: consensus.ErrAlreadyStarted, consensus.ErrStopped.
//
// # Concurrency
//
// Start, Stop, Run and the accessors are safe from any goroutine. The
// engine is not safe for concurrent use and is not exposed: read the chain
// through Consensus().Client() or the gateway.
package assemble
