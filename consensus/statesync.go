package consensus

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
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
