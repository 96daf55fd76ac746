package consensus

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	sm "github.com/cometbft/cometbft/state"
)

// ErrStateSyncServers: state sync needs two RPC servers (CometBFT's light
// client checks one against the other).
var ErrStateSyncServers = errors.New("consensus: state sync needs at least two RPC servers")

// EnableStateSync sets h up to join its chain by state sync: CometBFT's
// light client trusts the header of trustHeight with hash trustHash, asks
// rpcServers (CometBFT RPC addresses of the chain's nodes) for the headers
// above it, and the node restores a snapshot its peers offer (abci/
// snapshot.go verifies it against the app hash those headers carry)
// instead of replaying every block.
func (h *Home) EnableStateSync(rpcServers []string, trustHeight int64, trustHash []byte) error {
	if len(rpcServers) < 2 {
		return fmt.Errorf("%w: got %d", ErrStateSyncServers, len(rpcServers))
	}
	c, err := h.Config()
	if err != nil {
		return err
	}
	c.StateSync.Enable = true
	c.StateSync.RPCServers = rpcServers
	c.StateSync.TrustHeight = trustHeight
	c.StateSync.TrustHash = hex.EncodeToString(trustHash)
	// How long the node asks its peers for snapshots before it picks one:
	// CometBFT's smallest (its default is 15 s).
	c.StateSync.DiscoveryTime = 5 * time.Second
	if err := c.StateSync.ValidateBasic(); err != nil {
		return fmt.Errorf("consensus: state sync config: %w", err)
	}
	return writeConfig(h.ConfigFile(), c)
}

// TrustPoint asks a running node's CometBFT RPC for its committed header
// of height (0: its latest): the height and hash a joining node trusts
// (EnableStateSync). Whoever runs it trusts that node to answer truthfully.
func TrustPoint(ctx context.Context, rpcAddr string, height int64) (int64, []byte, error) {
	c, err := rpchttp.New(rpcAddr, "/websocket")
	if err != nil {
		return 0, nil, err
	}
	var at *int64
	if height > 0 {
		at = &height
	}
	res, err := c.Commit(ctx, at)
	if err != nil {
		return 0, nil, fmt.Errorf("consensus: commit %d from %s (is the chain running?): %w", height, rpcAddr, err)
	}
	return res.Height, res.Hash(), nil
}

// stateSyncPoll is how often SyncState looks whether CometBFT has stored the
// state sync's result.
const stateSyncPoll = 20 * time.Millisecond

// MayStateSync is the check before a node is built: the home's config
// enables state sync and CometBFT has committed nothing there yet (read
// from its state store, which must not be open). Node.StateSyncPending
// decides on a built node.
func (h *Home) MayStateSync() (bool, error) {
	c, err := h.Config()
	if err != nil || !c.StateSync.Enable {
		return false, err
	}
	height, _, err := CommittedAppHash(h)
	return height == 0, err
}

// StateSyncPending reports whether the node joins its chain by state sync
// when it starts: config.toml enables it, CometBFT holds no state yet, and
// the node is not the chain's only genesis validator (CometBFT's own rules:
// it skips state sync in the last two cases).
func (n *Node) StateSyncPending() (bool, error) {
	if !n.config.StateSync.Enable || n.comet.BlockStore().Height() > 0 {
		return false, nil
	}
	st, err := n.stateStore().Load()
	if err != nil {
		return false, fmt.Errorf("consensus: read the state store: %w", err)
	}
	if st.LastBlockHeight > 0 {
		return false, nil
	}
	gen, err := n.home.Genesis()
	if err != nil {
		return false, err
	}
	if len(gen.Validators) == 1 {
		pk, err := n.comet.PrivValidator().GetPubKey()
		if err != nil {
			return false, fmt.Errorf("consensus: validator key: %w", err)
		}
		if bytes.Equal(gen.Validators[0].PubKey.Address(), pk.Address()) {
			return false, nil
		}
	}
	return true, nil
}

func (n *Node) stateStore() sm.Store { return sm.NewStore(n.dbs.get("state"), sm.StoreOptions{}) }

// SyncState starts the node, waits until CometBFT has restored a snapshot by
// state sync and stored its chain state and the commit at that height, and
// stops the node (a Node starts once: build a new one from the same home to
// go on). It returns the height restored. The home then holds what a backup
// import leaves (consensus/chainstate Bootstrap): CometBFT's state at that
// height and no blocks; the next NewNode marks the height as restored
// offline (chainstate.MarkRestored), so that node fetches the blocks after
// the snapshot by block sync.
//
// Why not let the node go on: CometBFT v0.40 hands a state-synced node to
// block sync with its block pool's start height left at 1, so block sync's
// caught-up check falls back to "no block received lately" after its
// first 3 s wait and switches to consensus before it fetched anything
// (blocksync/pool.go IsCaughtUp); consensus then fetches the blocks after
// the snapshot about three times slower than block sync does.
//
// It returns ErrNoStateSync when StateSyncPending is false, and ctx's error
// (the node stopped) when ctx ends first.
func (n *Node) SyncState(ctx context.Context) (int64, error) {
	pending, err := n.StateSyncPending()
	if err != nil {
		return 0, err
	}
	if !pending {
		return 0, ErrNoStateSync
	}
	if err := n.Start(); err != nil {
		return 0, err
	}
	height, err := n.waitStateSynced(ctx)
	return height, errors.Join(err, n.Stop())
}

// ErrNoStateSync: SyncState on a node that does not join by state sync.
var ErrNoStateSync = errors.New("consensus: the node does not join by state sync (statesync.enable is off, it has state, or it is the only genesis validator)")

// waitStateSynced polls CometBFT's state store until it holds a state whose
// commit the block store has too: state sync's last steps (Bootstrap, then
// SaveSeenCommit, then block sync is enabled).
func (n *Node) waitStateSynced(ctx context.Context) (int64, error) {
	t := time.NewTicker(stateSyncPoll)
	defer t.Stop()
	store := n.stateStore()
	for {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-n.comet.Quit():
			return 0, errors.New("consensus: the node stopped during state sync")
		case <-t.C:
		}
		st, err := store.Load()
		if err != nil {
			return 0, fmt.Errorf("consensus: read the state store: %w", err)
		}
		if h := st.LastBlockHeight; h > 0 && n.comet.BlockStore().LoadSeenCommit(h) != nil {
			return h, nil
		}
	}
}
