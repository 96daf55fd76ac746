// Package chainstate is what CometBFT needs to start a node at a height H
// without the blocks below it: the signed headers of H and H+1, the
// validator sets of H, H+1 and H+2 and the consensus params of H+1 (an
// Anchor). It is the offline twin of CometBFT's state sync state provider:
// where state sync fetches these through its light client, an Anchor is
// read from a stopped node's stores into a backup file and checked, before
// anything is written, against a validator set the restoring node trusts.
//
//	a, err := chainstate.Read(cfg, h)          // a stopped home's stores: block store + state store
//	a, err := chainstate.ReadRPC(ctx, rpc, h)  // or a running node's CometBFT RPC
//	b, err := a.Encode()                       // canonical bytes; Decode refuses anything else
//	appHash, err := a.Verify(genesis, trust)   // ErrRefused with the reason
//	err = chainstate.Bootstrap(cfg, genesis, a) // the home's CometBFT stores must be empty
//
// What Verify checks: both headers are well formed for the genesis chain
// id at heights H and H+1; header H+1 names header H as its last block and
// commits (LastCommitHash) to the commit of H; the validator sets and the
// params hash to what the headers carry (ValidatorsHash of H and H+1,
// NextValidatorsHash of H+1, ConsensusHash of H+1); every signature of
// both commits verifies and each has more than 2/3 of its set's power; and
// the commit of H+1 is rooted in trust: either its header (or header H)
// has the hash the operator trusts, or more than 2/3 of the genesis
// validators' power signed it. The app hash of H it returns is header
// H+1's AppHash, what the validators signed. Not signed by any validator
// (state sync takes them on its RPC server's word): the validator sets'
// proposer priorities and the consensus params other than the block size
// and gas limits (CometBFT's ConsensusHash covers only those); the backup
// file that carries an Anchor has its own signature for them.
//
// Bootstrap does what CometBFT's node.BootstrapState does after an offline
// state sync: the state store's Bootstrap with the state at H, the commit
// of H as the block store's seen commit, and the offline state sync
// height, so that block sync fetches blocks from H+1. Nothing here is safe
// for concurrent use with a running node on the same home.
package chainstate
