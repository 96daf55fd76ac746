package chainstate

import (
	"context"
	"fmt"

	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	"github.com/cometbft/cometbft/types"
)

// RPC is the part of CometBFT's RPC client (rpc/client/http) that
// ReadRPC uses.
type RPC interface {
	Commit(ctx context.Context, height *int64) (*ctypes.ResultCommit, error)
	Validators(ctx context.Context, height *int64, page, perPage *int) (*ctypes.ResultValidators, error)
	ConsensusParams(ctx context.Context, height *int64) (*ctypes.ResultConsensusParams, error)
}

// ReadRPC reads the Anchor of height from a running node's CometBFT RPC,
// as CometBFT's state sync reads it from its RPC servers (the validator
// sets with their proposer priorities as the node answers them). The
// chain must have committed block height+1.
func ReadRPC(ctx context.Context, c RPC, height int64) (*Anchor, error) {
	a := &Anchor{}
	for _, sh := range []struct {
		h   int64
		dst **types.SignedHeader
	}{{height, &a.Last}, {height + 1, &a.Current}} {
		res, err := c.Commit(ctx, &sh.h)
		if err != nil {
			return nil, fmt.Errorf("chainstate: the commit of %d over RPC: %w", sh.h, err)
		}
		*sh.dst = &res.SignedHeader
	}
	for i, dst := range []**types.ValidatorSet{&a.LastValidators, &a.Validators, &a.NextValidators} {
		set, err := rpcValidators(ctx, c, height+int64(i))
		if err != nil {
			return nil, err
		}
		*dst = set
	}
	h := height + 1
	res, err := c.ConsensusParams(ctx, &h)
	if err != nil {
		return nil, fmt.Errorf("chainstate: the consensus params of %d over RPC: %w", h, err)
	}
	a.Params = res.ConsensusParams
	return a, nil
}

// rpcValidators reads every page of the validator set of height.
func rpcValidators(ctx context.Context, c RPC, height int64) (*types.ValidatorSet, error) {
	var vals []*types.Validator
	perPage := 100
	for page := 1; ; page++ {
		res, err := c.Validators(ctx, &height, &page, &perPage)
		if err != nil {
			return nil, fmt.Errorf("chainstate: the validators of %d over RPC: %w", height, err)
		}
		vals = append(vals, res.Validators...)
		if len(vals) >= res.Total || len(res.Validators) == 0 {
			break
		}
	}
	set, err := types.ValidatorSetFromExistingValidators(vals)
	if err != nil {
		return nil, fmt.Errorf("chainstate: the validators of %d over RPC: %w", height, err)
	}
	return set, nil
}
