package rest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/dstt/dstt/types"
)

// txLimitsCache holds the chain's tx limits once the node has told them:
// they come from genesis and never change, so one successful params query
// serves the gateway's life.
type txLimitsCache struct {
	mu  sync.Mutex
	lim *types.Limits
}

// txLimits is the chain's tx limits (types.QueryParams), asked for on the
// first submit and cached; a failure is not cached.
func (g *Gateway) txLimits(ctx context.Context) (types.Limits, error) {
	c := &g.limits
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lim != nil {
		return *c.lim, nil
	}
	res, err := g.backend.Query(ctx, types.QueryParams, nil, 0)
	if err != nil {
		return types.Limits{}, err
	}
	if res.Code != 0 {
		return types.Limits{}, fmt.Errorf("params query: %s", res.Log)
	}
	var rec struct {
		Params *types.Params `json:"params"`
	}
	if err := json.Unmarshal(res.Value, &rec); err != nil {
		return types.Limits{}, fmt.Errorf("params query: %w", err)
	}
	if rec.Params == nil {
		return types.Limits{}, fmt.Errorf("params query: no params in %q", res.Value)
	}
	lim := rec.Params.Limits()
	c.lim = &lim
	return lim, nil
}
