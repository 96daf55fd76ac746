package chainstate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	cfg "github.com/cometbft/cometbft/config"
	cmtstate "github.com/cometbft/cometbft/proto/tendermint/state"
	sm "github.com/cometbft/cometbft/state"
	"github.com/cometbft/cometbft/store"
	"github.com/cometbft/cometbft/types"
	"github.com/cometbft/cometbft/version"
)

// ErrNotEmpty: the home's CometBFT stores already hold a chain.
var ErrNotEmpty = errors.New("chainstate: the block store or state store is not empty")

// State is CometBFT's state after block H, built as its state sync state
// provider builds it from the light blocks of H, H+1 and H+2.
func (a *Anchor) State(gen *types.GenesisDoc) sm.State {
	initial := gen.InitialHeight
	if initial == 0 {
		initial = 1
	}
	return sm.State{
		ChainID:       gen.ChainID,
		InitialHeight: initial,
		Version: cmtstate.Version{
			Consensus: a.Current.Version,
			Software:  version.TMCoreSemVer,
		},
		LastBlockHeight:                  a.Last.Height,
		LastBlockTime:                    a.Last.Time,
		LastBlockID:                      a.Last.Commit.BlockID,
		AppHash:                          a.Current.AppHash,
		LastResultsHash:                  a.Current.LastResultsHash,
		LastValidators:                   a.LastValidators,
		Validators:                       a.Validators,
		NextValidators:                   a.NextValidators,
		LastHeightValidatorsChanged:      a.Current.Height + 1,
		ConsensusParams:                  a.Params,
		LastHeightConsensusParamsChanged: a.Current.Height,
	}
}

// IsEmpty reports whether the CometBFT stores of c hold no chain (a home
// whose data directory was lost). Stores that do not exist are not
// created.
func IsEmpty(c *cfg.Config) (empty bool, err error) {
	found, err := readStores(c, func(bs *store.BlockStore, _ sm.Store, st sm.State) error {
		empty = bs.IsEmpty() && st.IsEmpty()
		return nil
	})
	return empty || (!found && err == nil), err
}

// readStores runs fn with the CometBFT stores of c open and their state
// loaded, unless neither store exists: then it reports found false and
// creates nothing.
func readStores(c *cfg.Config, fn func(*store.BlockStore, sm.Store, sm.State) error) (found bool, err error) {
	for _, id := range []string{"blockstore", "state"} {
		_, err := os.Stat(filepath.Join(c.DBDir(), id+".db"))
		found = found || !errors.Is(err, fs.ErrNotExist)
	}
	if !found {
		return false, nil
	}
	bs, ss, closeDBs, err := openStores(c)
	if err != nil {
		return true, err
	}
	defer func() { err = errors.Join(err, closeDBs()) }()
	st, err := ss.Load()
	if err != nil {
		return true, fmt.Errorf("chainstate: read the state store: %w", err)
	}
	return true, fn(bs, ss, st)
}

// Bootstrap writes a (verified by the caller: Verify) into the empty
// CometBFT stores of c, as node.BootstrapState does after an offline state
// sync: the state at H, the commit of H as the seen commit, and the
// offline state sync height. The node then starts at H+1 and block sync
// fetches the blocks above H from its peers.
func Bootstrap(c *cfg.Config, gen *types.GenesisDoc, a *Anchor) (err error) {
	bs, ss, closeDBs, err := openStores(c)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, closeDBs()) }()
	st, err := ss.Load()
	if err != nil {
		return fmt.Errorf("chainstate: read the state store: %w", err)
	}
	if !bs.IsEmpty() || !st.IsEmpty() {
		return fmt.Errorf("%w (block store %d-%d, state at height %d)", ErrNotEmpty, bs.Base(), bs.Height(), st.LastBlockHeight)
	}
	state := a.State(gen)
	if err := ss.Bootstrap(state); err != nil {
		return fmt.Errorf("chainstate: bootstrap the state store: %w", err)
	}
	if err := bs.SaveSeenCommit(state.LastBlockHeight, a.Last.Commit); err != nil {
		return fmt.Errorf("chainstate: save the commit of %d: %w", state.LastBlockHeight, err)
	}
	if err := ss.SetOfflineStateSyncHeight(state.LastBlockHeight); err != nil {
		return fmt.Errorf("chainstate: set the synced height: %w", err)
	}
	return nil
}

// MarkRestored finishes a restore cut short: CometBFT's stores of c hold a
// state at a height H > 0 and the commit of H but no block, and H is not
// marked as the offline state sync height (the process stopped between
// CometBFT's state sync storing its state and consensus.Node.SyncState
// marking it, or inside Bootstrap above). CometBFT refuses to start such a
// home (its block sync panics: state and block store heights differ), so
// MarkRestored marks H and reports true. Any other home is left alone;
// when neither store exists none is created.
func MarkRestored(c *cfg.Config) (marked bool, err error) {
	_, err = readStores(c, func(bs *store.BlockStore, ss sm.Store, st sm.State) error {
		h := st.LastBlockHeight
		if h == 0 || bs.Height() != 0 || bs.LoadSeenCommit(h) == nil {
			return nil
		}
		if got, err := ss.GetOfflineStateSyncHeight(); err == nil && got == h {
			return nil
		}
		if err := ss.SetOfflineStateSyncHeight(h); err != nil {
			return fmt.Errorf("chainstate: set the synced height: %w", err)
		}
		marked = true
		return nil
	})
	return marked, err
}

// ErrNoBlock: the block store does not hold that block.
var ErrNoBlock = errors.New("chainstate: no such block in the block store")

// HeaderHash is the hash of the header of height in the block store of c
// (a stopped node's own, verified chain).
func HeaderHash(c *cfg.Config, height int64) (hash []byte, err error) {
	bs, _, closeDBs, err := openStores(c)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, closeDBs()) }()
	meta := bs.LoadBlockMeta(height)
	if meta == nil {
		return nil, fmt.Errorf("%w: %d (it holds %d-%d)", ErrNoBlock, height, bs.Base(), bs.Height())
	}
	return meta.BlockID.Hash, nil
}
