// Package consensus embeds CometBFT: it owns the node home directory, the CometBFT config
// tuned for a single machine, the genesis document, the node and validator keys, and the
// lifecycle of an in-process node. It holds no business rules: the ABCI application comes
// in as an abcitypes.Application and the genesis app_state as opaque JSON.
//
// # Home layout
//
//	HOME/config/config.toml               CometBFT config (NewConfig writes it; Home.Config reads it)
//	HOME/config/genesis.json              chain id, validators, consensus params, app_state
//	HOME/config/node_key.json             p2p identity (Home.NodeID)
//	HOME/config/priv_validator_key.json   consensus signing key (mode 0600)
//	HOME/data/                            CometBFT's databases, consensus WAL
//	HOME/data/priv_validator_state.json   last signed height/round/step
//	HOME/data/app/                        the application's store (Home.AppDataDir)
//	HOME/keyring/                         client keys (Home.KeyringDir; owned by security/)
//
// HOME defaults to $DSTT_HOME, else ~/.dstt (DefaultHomeDir).
//
// # Call order
//
//	home, err := consensus.InitHome(opts)      // once per home; or OpenHome(path) later
//	home, err := consensus.OpenHome(path)      // ErrNotInitialised if InitHome never ran
//	app := ...                                 // the ABCI app, its store under home.AppDataDir()
//	node, err := consensus.NewNode(home, app, logger)  // + RequireLoopbackRPC() with access control
//	err = node.Run(ctx)                        // Start; block until ctx is done; Stop
//
// or Start and Stop by hand; use Client() for the CometBFT RPC API in-process and
// WaitForHeight to wait for a commit. A Node starts at most once: to restart, Stop it and
// build a new Node on the same home (the databases are closed by then). Always Stop a Node
// that NewNode returned, even one that never started. The application is the caller's:
// close it after Stop.
//
// A network of several nodes (see package testnet) makes every node's keys first, builds
// one genesis listing all validators, then initialises each home with it and with the
// others as peers:
//
//	keys := consensus.GenerateNodeKeys()           // per node
//	gen, err := consensus.NewGenesis(chainID, time.Now(), validators, appState)
//	home, err := consensus.InitHome(consensus.InitOptions{
//		Keys: &keys, Genesis: gen, Transport: consensus.TransportTCP,
//		Peers: []consensus.Peer{{NodeKey: otherNodePubKey, Address: "127.0.0.1:26710"}}, ...})
//
// A node joining a running chain does the same with the chain's genesis
// (Home.Genesis of a member) and peers from the members' Home.AsPeer.
//
// # Transports
//
// TransportTCP is CometBFT's own p2p (persistent_peers = "ID@host:port", the node ID being
// the hex address of the node key). TransportLibP2P switches on CometBFT v0.40's
// experimental go-libp2p transport: QUIC over UDP on the P2P listen port, peers in
// [p2p.libp2p] bootstrap_peers as {host, libp2p peer ID, persistent}. A Peer holds the
// node's public key, from which both IDs derive (Peer.NodeID, LibP2PID). Every validator
// of a chain must use the same transport.
//
// # Peer admission
//
// NewConfig turns filter_peers on: CometBFT asks the application (ABCI Query
// /p2p/filter/id/NODE-ID) whether to admit each peer when it connects, on the TCP
// transport. A running Node asks again for every connected peer after each committed
// block and drops the ones now refused, and redials missing persistent peers that are
// admitted (peeradmission.go). The go-libp2p transport has no peer admission.
//
// # A validator key held elsewhere
//
// With InitOptions.ValidatorPubKey the genesis validator is a key this home does not
// hold (a Vault transit key, say), and InitOptions.PrivValidatorListen writes
// priv_validator_laddr: NewNode then listens there for a remote signer (`dstt signer`,
// package consensus/privval) instead of loading priv_validator_key.json, and waits up to
// 3 s for it to dial in. CometBFT's consensus does not ask again for a signature that
// failed, so the node's signer client re-asks (remotesigner.go): without limit while
// this validator holds at least 1/3 of the voting power (the chain cannot move without
// it), else within CometBFT's own budget (~5 s) while the others carry the round. A
// signer's error answer (a double-sign refusal) is final.
//
// # Errors
//
//   - InitHome, NewConfig: ErrInvalidOptions (every problem listed: also a bad
//     transport, a peer without an ed25519 key or host:port, a duplicate peer or the node
//     itself as peer, a genesis together with AppState/GenesisTime or another chain id),
//     ErrHomeExists (a chain is
//     there and Overwrite is unset). Overwrite deletes the config files InitHome writes,
//     the address book and all of data/ (chain, app store, validator state); it keeps
//     keyring/ and any other file in config/.
//   - OpenHome, Home.Config, NewNode: ErrNotInitialised (with the missing files and the
//     hint to run `dstt init` or `dstt start --dev`); Home.Config and NewNode:
//     ErrInvalidConfig (every problem listed; file paths in config.toml must match the
//     layout); NewNode: ErrDBBackendAbsent when config.toml names a database backend this
//     binary lacks.
//   - NewNode with RequireLoopbackRPC: ErrPublicRPC when rpc.laddr, rpc.grpc_laddr or
//     rpc.pprof_laddr listens beyond loopback (PublicRPCListeners names them). CometBFT's
//     RPC has no authentication and serves every block and tx: on a chain with access
//     control it is an operator port; clients use the REST gateway.
//   - Node: ErrAlreadyStarted, ErrStopped.
//
// # Database backend
//
// CometBFT's Pebble backend is compiled in only with the `pebbledb` build tag
// (cometbft-db). DefaultDBBackend is "pebbledb" in such builds and "goleveldb" otherwise;
// a home keeps the backend it was created with.
//
// # Concurrency
//
// Home is a path plus read-only helpers: safe to share. Node's Start, Stop, Run and
// IsRunning are safe from any goroutine (Start/Stop are serialised; Stop waits for
// shutdown). The client returned by Client is safe for concurrent use. The application is
// reached through proxy.NewLocalClientCreator: CometBFT's consensus, mempool, query and
// snapshot connections call it from different goroutines but under one shared mutex, so
// it sees one ABCI call at a time; code outside ABCI that touches the same state (an
// in-process gateway reading the store, say) must synchronise with it.
//
// # config.toml
//
// Home.Config reads config.toml the way CometBFT's own command does: viper over
// cfg.DefaultConfig(), decoded through the config structs' mapstructure tags. Unknown keys
// are ignored, as CometBFT does.
package consensus
