package consensus

import (
	"errors"
	"fmt"

	cfg "github.com/cometbft/cometbft/config"
	sm "github.com/cometbft/cometbft/state"
	"github.com/cometbft/cometbft/store"
)

// ErrNotSigned: the home's block store has no signed commit for a height
// yet (or no longer: pruned).
var ErrNotSigned = errors.New("consensus: no signed commit for that height")

// SignedAppHash reads, from CometBFT's stores in home with no node running,
// the app hash of height as the validators signed it: the AppHash of the
// header of block height+1, checked against the commit for that block
// (more than 2/3 of the voting power of its validator set, from the state
// store). It is the trust root of snapshot verification.
func SignedAppHash(home *Home, height int64) (appHash []byte, err error) {
	c, err := home.Config()
	if err != nil {
		return nil, err
	}
	blockDB, err := cfg.DefaultDBProvider(&cfg.DBContext{ID: "blockstore", Config: c})
	if err != nil {
		return nil, fmt.Errorf("consensus: open the block store: %w", err)
	}
	defer func() { err = errors.Join(err, blockDB.Close()) }()
	stateDB, err := cfg.DefaultDBProvider(&cfg.DBContext{ID: "state", Config: c})
	if err != nil {
		return nil, fmt.Errorf("consensus: open the state store: %w", err)
	}
	defer func() { err = errors.Join(err, stateDB.Close()) }()
	bs := store.NewBlockStore(blockDB)
	next := height + 1
	meta := bs.LoadBlockMeta(next)
	if meta == nil {
		return nil, fmt.Errorf("%w: no block %d in the block store (it holds %d-%d)", ErrNotSigned, next, bs.Base(), bs.Height())
	}
	commit := bs.LoadBlockCommit(next)
	if commit == nil {
		commit = bs.LoadSeenCommit(next)
	}
	if commit == nil {
		return nil, fmt.Errorf("%w: no commit for block %d", ErrNotSigned, next)
	}
	vals, err := sm.NewStore(stateDB, sm.StoreOptions{}).LoadValidators(next)
	if err != nil {
		return nil, fmt.Errorf("consensus: validators of height %d: %w", next, err)
	}
	if err := vals.VerifyCommitLight(meta.Header.ChainID, meta.BlockID, next, commit); err != nil {
		return nil, fmt.Errorf("consensus: the commit for block %d does not verify: %w", next, err)
	}
	return meta.Header.AppHash, nil
}
