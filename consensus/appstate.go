package consensus

import (
	"errors"
	"fmt"

	cfg "github.com/cometbft/cometbft/config"
	sm "github.com/cometbft/cometbft/state"
)

// CommittedAppHash reads CometBFT's own state store in home, with no node
// running: the last block CometBFT committed and the app hash the
// application reported for it (the one the next block's header carries
// and the validators sign). A home without blocks gives 0 and nil.
func CommittedAppHash(home *Home) (int64, []byte, error) {
	c, err := home.Config()
	if err != nil {
		return 0, nil, err
	}
	db, err := cfg.DefaultDBProvider(&cfg.DBContext{ID: "state", Config: c})
	if err != nil {
		return 0, nil, fmt.Errorf("consensus: open the state store: %w", err)
	}
	st, err := sm.NewStore(db, sm.StoreOptions{}).Load()
	err = errors.Join(err, db.Close())
	if err != nil {
		return 0, nil, fmt.Errorf("consensus: read the state store: %w", err)
	}
	return st.LastBlockHeight, st.AppHash, nil
}
