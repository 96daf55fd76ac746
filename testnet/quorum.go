package testnet

import (
	"context"
	"fmt"
	"slices"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
)

// DefaultStallAfter is how long a chain may go without a block while txs
// wait before Quorum calls it halted: about five rounds of the testnet's
// consensus timeouts (a round is propose 600 ms + prevote 200 ms +
// precommit 200 ms, each round 400 ms longer than the last), so a
// height that failed over to later rounds is not mistaken for a halt.
const DefaultStallAfter = 10 * time.Second

// Quorum is the chain's liveness as the answering nodes show it: the voting
// power online against the validator set, and whether blocks still come.
type Quorum struct {
	Height int64 `json:"height"` // the highest height an answering node has
	// CommitTime is when Height was committed: the median time of the
	// precommits for it (zero when unknown).
	CommitTime time.Time `json:"commit_time"`
	AgeSeconds float64   `json:"age_seconds"` // since CommitTime
	// The validator set that signs the next block, and the part of it
	// whose node answers and is not catching up (so it votes).
	Validators  int   `json:"validators"`
	Online      int   `json:"online"`
	TotalPower  int64 `json:"total_power"`
	OnlinePower int64 `json:"online_power"`
	// HasQuorum: OnlinePower is more than 2/3 of TotalPower, so blocks can
	// commit.
	HasQuorum  bool `json:"has_quorum"`
	PendingTxs int  `json:"pending_txs"` // the most txs waiting in one answering node's mempool
	// Halted: no block can commit (no quorum online, or no node answers),
	// or none has for longer than the stall limit while txs wait, and none
	// came while Observe watched for one. Reason says which.
	Halted bool   `json:"halted"`
	Reason string `json:"reason,omitempty"`
	// Stalled: the quorum is online but txs wait and the last block is
	// older than the stall limit (the halt Observe confirms by watching).
	Stalled bool `json:"stalled,omitempty"`
}

// Observe reads every node's status (Status) and the quorum (CheckQuorum).
// When the quorum is online but the chain looks stalled (txs wait, the last
// block older than stallAfter), it watches for up to stallAfter more: a new
// block (a chain that just got its quorum back) means it is not halted, and
// it reads everything again. ctx bounds the whole.
func Observe(ctx context.Context, nw *Network, stallAfter time.Duration) ([]NodeStatus, Quorum, error) {
	statuses := Status(ctx, nw)
	q, err := CheckQuorum(ctx, nw, statuses, stallAfter)
	if err != nil || !q.Stalled {
		return statuses, q, err
	}
	if !waitHeightAbove(ctx, nw, q.Height, stallAfter) {
		q.Reason += fmt.Sprintf("; none came in %s of watching", stallAfter)
		return statuses, q, nil
	}
	statuses = Status(ctx, nw)
	q, err = CheckQuorum(ctx, nw, statuses, stallAfter)
	if q.Stalled { // blocks come: it moves, however slowly
		q.Halted, q.Stalled, q.Reason = false, false, ""
	}
	return statuses, q, err
}

// waitHeightAbove polls until some node has a block above h (true), or d
// or ctx runs out (false).
func waitHeightAbove(ctx context.Context, nw *Network, h int64, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, s := range Status(ctx, nw) {
			if s.Reachable() && s.Height > h {
				return true
			}
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}

// Needed is the least voting power that is more than 2/3 of TotalPower.
func (q Quorum) Needed() int64 { return q.TotalPower*2/3 + 1 }

// CheckQuorum reads the validator set of the next block and the latest
// commit from the answering node with the highest height and summarises
// the chain's liveness (Summarize) as of now.
func CheckQuorum(ctx context.Context, nw *Network, statuses []NodeStatus, stallAfter time.Duration) (Quorum, error) {
	best := -1
	for i, s := range statuses {
		if s.Reachable() && (best < 0 || s.Height > statuses[best].Height) {
			best = i
		}
	}
	if best < 0 || statuses[best].Height < 1 {
		return Summarize(statuses, nil, time.Time{}, time.Now(), stallAfter), nil
	}
	c, err := rpchttp.New(nw.Nodes[best].RPC, "/websocket")
	if err != nil {
		return Quorum{}, err
	}
	h := statuses[best].Height
	perPage := 100 // MaxValidators fit on one page
	vals := map[string]int64{}
	for page := 1; ; page++ {
		// No height: the set that signs the next block, as the POWER column
		// (/status) shows it.
		res, err := c.Validators(ctx, nil, &page, &perPage)
		if err != nil {
			return Quorum{}, fmt.Errorf("testnet: %s: validators: %w", statuses[best].Name, err)
		}
		for _, v := range res.Validators {
			vals[v.Address.String()] = v.VotingPower
		}
		if len(vals) >= res.Total || len(res.Validators) == 0 {
			break
		}
	}
	commit, err := c.Commit(ctx, &h)
	if err != nil {
		return Quorum{}, fmt.Errorf("testnet: %s: commit %d: %w", statuses[best].Name, h, err)
	}
	var times []time.Time
	for _, sig := range commit.Commit.Signatures {
		if len(sig.Signature) > 0 {
			times = append(times, sig.Timestamp)
		}
	}
	var at time.Time
	if len(times) > 0 {
		slices.SortFunc(times, time.Time.Compare)
		at = times[len(times)/2]
	}
	return Summarize(statuses, vals, at, time.Now(), stallAfter), nil
}

// Summarize is the chain's liveness from the nodes' statuses, the validator
// set of the next block (address to voting power), when the highest height was
// committed, and the time now. The chain is halted when no node answers,
// when the validators whose node answers and is not catching up hold no
// more than 2/3 of the voting power, or when txs wait and no block has
// been committed for longer than stallAfter.
func Summarize(statuses []NodeStatus, validators map[string]int64, committed, now time.Time, stallAfter time.Duration) Quorum {
	q := Quorum{Validators: len(validators), CommitTime: committed}
	answering := 0
	for _, s := range statuses {
		if !s.Reachable() {
			continue
		}
		answering++
		q.Height = max(q.Height, s.Height)
		q.PendingTxs = max(q.PendingTxs, s.PendingTxs)
		if p, ok := validators[s.ValidatorAddress]; ok && !s.CatchingUp {
			q.Online++
			q.OnlinePower += p
		}
	}
	for _, p := range validators {
		q.TotalPower += p
	}
	q.HasQuorum = q.TotalPower > 0 && 3*q.OnlinePower > 2*q.TotalPower
	age := time.Duration(0)
	if !committed.IsZero() {
		age = max(0, now.Sub(committed))
		q.AgeSeconds = age.Round(100 * time.Millisecond).Seconds()
	}
	switch {
	case answering == 0:
		q.Halted, q.Reason = true, "no node answers"
	case q.TotalPower == 0:
		// No block yet: nothing to measure against.
	case !q.HasQuorum:
		q.Halted = true
		q.Reason = fmt.Sprintf("%d of %d voting power online, a block needs more than 2/3 (%d)", q.OnlinePower, q.TotalPower, q.Needed())
	case q.PendingTxs > 0 && !committed.IsZero() && age > stallAfter:
		q.Halted, q.Stalled = true, true
		q.Reason = fmt.Sprintf("%d txs wait and no block for %s (over %s)", q.PendingTxs, age.Round(time.Second), stallAfter)
	}
	return q
}
