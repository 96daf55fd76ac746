package executor

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/dstt/dstt/transport/branchapi"
	"github.com/dstt/dstt/transport/client"
	"github.com/dstt/dstt/types"
)

// NodeChain is the Chain of a dstt node reached through the Go SDK: it
// reads the pending work (types.QueryGtxPending, signed by the client's
// reader, which needs read on gtx/*), submits answers in txs signed by the
// client's signer, and waits by polling.
type NodeChain struct {
	Client *client.Client
	// Org, when set, limits the work to this org's participants.
	Org string
	// Poll is the longest pause between two reads of the pending work
	// (default 200 ms); a new block ends it sooner.
	Poll time.Duration

	height atomic.Int64 // the latest height Wait saw
}

var _ Chain = (*NodeChain)(nil)

// Pending returns every awaited step, reading page after page.
func (n *NodeChain) Pending(ctx context.Context) ([]Step, error) {
	var out []Step
	after := ""
	for {
		page, err := n.Client.GtxPending(ctx, &types.GtxPendingRequest{After: after, Limit: types.GtxPageMax, Org: n.Org})
		if err != nil {
			return out, fmt.Errorf("executor: pending work: %w", err)
		}
		for _, w := range page.Work {
			out = append(out, Step{
				GID: w.Gid, Branch: w.Branch, Operation: branchapi.OpName(w.Op), Attempt: w.Attempt,
				Participant: w.Participant, Endpoint: w.Endpoint, Payload: w.Payload, DeadlineUnixMs: w.DeadlineUnixMs,
			})
		}
		if page.Next == "" || page.Next == after {
			return out, nil
		}
		after = page.Next
	}
}

// Submit sends the answer in one tx and returns once the node admitted it
// to its mempool (CheckTx); the executor then watches the pending work
// for the step to go. Waiting for the block here would hold one of the
// few event subscriptions CometBFT's RPC allows a client per step in
// flight. An answer the chain already has (CodeGtxDuplicateAnswer) or no
// longer awaits (CodeGtxNotAwaited: another executor's answer moved the
// gtx on, or the deadline passed) ends the step: nil.
func (n *NodeChain) Submit(ctx context.Context, s Step, a branchapi.Answer) error {
	op := types.Op{Sum: &types.Op_GtxAnswer{GtxAnswer: &types.GtxAnswer{
		Gid: s.GID, Branch: s.Branch, Op: branchapi.ParseOp(s.Operation), Attempt: s.Attempt,
		Status: a.Status(), Result: a.Result, PubKey: a.PubKey, Signature: a.Signature,
	}}}
	return settled(n.send(ctx, op))
}

// send signs a tx of op with the client's signer and hands it to the mempool.
func (n *NodeChain) send(ctx context.Context, op types.Op) error {
	tx, err := n.Client.Sign(ctx, &types.TxBody{Ops: []types.Op{op}})
	if err != nil {
		return err
	}
	_, err = n.Client.BroadcastSync(ctx, tx)
	return err
}

// settled maps the refusals that mean "nothing left to do" to nil.
func settled(err error) error {
	var te *client.TxError
	if errors.As(err, &te) && (te.Code == types.CodeGtxDuplicateAnswer || te.Code == types.CodeGtxNotAwaited || te.Code == types.CodeGtxNotFound) {
		return nil
	}
	return err
}

// Expire submits GtxDeadline{gid} to the mempool. A gtx that ended
// meanwhile (CodeGtxNotFound, CodeGtxNotAwaited) is nothing to do.
func (n *NodeChain) Expire(ctx context.Context, gid string) error {
	return settled(n.send(ctx, types.Op{Sum: &types.Op_GtxDeadline{GtxDeadline: &types.GtxDeadline{Gid: gid}}}))
}

// Wait returns when the node has a block newer than at the last Wait
// (checked every 10 ms), after Poll at the most, or when ctx ends.
func (n *NodeChain) Wait(ctx context.Context) {
	d := n.Poll
	if d <= 0 {
		d = 200 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for sleep(ctx, 10*time.Millisecond) {
		info, err := n.Client.ChainInfo(ctx)
		if err == nil && info.LatestHeight > n.height.Load() {
			n.height.Store(info.LatestHeight)
			return
		}
	}
}

// RunNode runs an executor against the node c is connected to until ctx
// ends: it waits for the node to answer (it may still be starting), takes
// the chain id from it, and runs cfg (ChainID and Chain filled in; Chain
// is a NodeChain for org) with c's signer as cfg.Signer's client.
func RunNode(ctx context.Context, c *client.Client, org string, cfg Config) error {
	for attempt := 0; cfg.ChainID == ""; attempt++ {
		info, err := c.ChainInfo(ctx)
		if err == nil {
			cfg.ChainID = info.ChainID
			break
		}
		if attempt > 0 && attempt%50 == 0 && cfg.Logger != nil {
			cfg.Logger.Info("gtx executor: waiting for the node", "err", err)
		}
		if !sleep(ctx, 200*time.Millisecond) {
			return ctx.Err()
		}
	}
	cfg.Chain = &NodeChain{Client: c, Org: org}
	ex, err := New(cfg)
	if err != nil {
		return err
	}
	return ex.Run(ctx)
}
