package client

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/types"
)

// ErrContention is returned (wrapped, with the last CONFLICT) when Txn
// gave up: every attempt lost to a concurrent writer of a key it read.
var ErrContention = errors.New("client: transaction aborted by contention")

// TxnOptions tune Txn. Zero fields take DefaultTxnOptions' values.
type TxnOptions struct {
	// MaxAttempts bounds how many times the function runs.
	MaxAttempts int
	// BaseBackoff and MaxBackoff bound the pause before a retry: attempt n
	// waits a random time in [0, min(MaxBackoff, base·2^(n-1))) ("full
	// jitter"), where base is BaseBackoff scaled up by the conflict rate
	// this client has seen lately (up to 16×): the more contention, the
	// more the retries spread out.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// ValidFor is how many blocks past the snapshot the commit tx stays
	// valid.
	ValidFor uint64
	// Signers sign the commit tx (default: the client's, WithSigner).
	Signers []security.Signer
}

// DefaultTxnOptions are the defaults of Txn.
func DefaultTxnOptions() TxnOptions {
	return TxnOptions{MaxAttempts: 64, BaseBackoff: 2 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, ValidFor: DefaultValidFor}
}

func (o TxnOptions) withDefaults(c *Client) TxnOptions {
	d := c.txn
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = d.MaxAttempts
	}
	if o.BaseBackoff <= 0 {
		o.BaseBackoff = d.BaseBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = d.MaxBackoff
	}
	if o.ValidFor == 0 {
		o.ValidFor = d.ValidFor
	}
	if len(o.Signers) == 0 {
		o.Signers = c.signerKeys()
	}
	return o
}

// Txn is one attempt of an interactive transaction: reads at one snapshot
// height, buffered writes. It is used only inside the function given to
// Client.Txn and is not safe for concurrent use.
type Txn struct {
	c       *Client
	ctx     context.Context
	reader  security.Signer
	attempt int
	height  int64                    // snapshot height; 0 until the first read
	reads   map[string]types.Version // key -> version seen (zero: absent)
	writes  map[string]*types.Op
	order   []string // keys in first-write order
}

// Attempt is 1 on the first run of the function, 2 on the first retry...
func (t *Txn) Attempt() int { return t.attempt }

// Height is the snapshot height (0 before the first read).
func (t *Txn) Height() int64 { return t.height }

// Get reads key as of the snapshot (the transaction's own writes first).
// found is false for a key that does not exist (or was deleted). The
// version read is remembered: the commit checks that it has not changed.
func (t *Txn) Get(key string) (value []byte, found bool, err error) {
	if op, ok := t.writes[key]; ok {
		if p, ok := op.Sum.(*types.Op_Put); ok {
			return p.Put.Value, true, nil
		}
		return nil, false, nil
	}
	kv, h, err := t.c.getAs(t.ctx, t.reader, key, t.height)
	switch {
	case errors.Is(err, ErrNotFound):
		found = false
	case err != nil:
		return nil, false, err
	default:
		found = true
	}
	if t.height == 0 {
		t.height = h
	}
	if _, seen := t.reads[key]; !seen {
		if found {
			t.reads[key] = kv.Version
		} else {
			t.reads[key] = types.Version{}
		}
	}
	return kv.Value, found, nil
}

// Put buffers a write of value under key.
func (t *Txn) Put(key string, value []byte) {
	t.write(key, &types.Op{Sum: &types.Op_Put{Put: &types.Put{Key: key, Value: value}}})
}

// Delete buffers a delete of key.
func (t *Txn) Delete(key string) {
	t.write(key, &types.Op{Sum: &types.Op_Delete{Delete: &types.Delete{Key: key}}})
}

func (t *Txn) write(key string, op *types.Op) {
	if _, ok := t.writes[key]; !ok {
		t.order = append(t.order, key)
	}
	t.writes[key] = op
}

// ops is the commit tx: a check of every key read, in key order, then the
// writes in first-write order.
func (t *Txn) ops() []types.Op {
	ops := make([]types.Op, 0, len(t.reads)+len(t.writes))
	for _, k := range slices.Sorted(maps.Keys(t.reads)) {
		ops = append(ops, types.Op{Sum: &types.Op_Check{Check: &types.Check{Key: k, Version: t.reads[k]}}})
	}
	for _, k := range t.order {
		ops = append(ops, *t.writes[k])
	}
	return ops
}

// Txn runs fn as an interactive transaction and commits it as one tx:
// fn reads (at a snapshot height, recording each version) and writes
// (buffered); the commit tx checks every version read and applies the
// writes, all or nothing. When a key read has changed since (CONFLICT),
// fn runs again on a fresh snapshot after a jittered, exponentially
// growing pause adapted to the contention seen, up to MaxAttempts times;
// then the error wraps ErrContention. An error from fn aborts without
// retrying. A transaction that writes nothing commits nothing and returns
// a Result with only Height (its snapshot) set.
func (c *Client) Txn(ctx context.Context, fn func(*Txn) error) (Result, error) {
	return c.TxnWith(ctx, TxnOptions{}, fn)
}

// TxnWith is Txn with options.
func (c *Client) TxnWith(ctx context.Context, opts TxnOptions, fn func(*Txn) error) (Result, error) {
	o := opts.withDefaults(c)
	if len(o.Signers) == 0 {
		return Result{}, ErrNoSigner
	}
	reader := c.readerKey()
	if reader == nil {
		reader = o.Signers[0]
	}
	var lastConflict error
	for attempt := 1; attempt <= o.MaxAttempts; attempt++ {
		if attempt > 1 {
			if err := sleep(ctx, c.contention.backoff(o, attempt-1)); err != nil {
				return Result{}, fmt.Errorf("%w after %d attempts: %w (last: %v)", ErrContention, attempt-1, err, lastConflict)
			}
		}
		t := &Txn{c: c, ctx: ctx, reader: reader, attempt: attempt, reads: map[string]types.Version{}, writes: map[string]*types.Op{}}
		if err := fn(t); err != nil {
			return Result{}, err
		}
		if len(t.writes) == 0 {
			return Result{Height: t.height}, nil
		}
		res, err := c.commitTxn(ctx, t, o)
		var txErr *TxError
		if errors.As(err, &txErr) && txErr.Code == types.CodeConflict {
			c.contention.observe(true)
			lastConflict = err
			continue
		}
		if err == nil {
			c.contention.observe(false)
		}
		return res, err
	}
	return Result{}, fmt.Errorf("%w: %d attempts, each lost to a concurrent write of a key it read; last: %w", ErrContention, o.MaxAttempts, lastConflict)
}

func (c *Client) commitTxn(ctx context.Context, t *Txn, o TxnOptions) (Result, error) {
	chainID, err := c.cachedChainID(ctx)
	if err != nil {
		return Result{}, err
	}
	base := t.height
	if base == 0 {
		info, err := c.ChainInfo(ctx)
		if err != nil {
			return Result{}, err
		}
		base = info.LatestHeight
	}
	body := &types.TxBody{ChainId: chainID, Nonce: RandomNonce(), ValidUntilHeight: uint64(base) + o.ValidFor, Ops: t.ops()}
	tx, err := security.SignTx(body, o.Signers...)
	if err != nil {
		return Result{}, err
	}
	return c.BroadcastCommit(ctx, tx)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// contention tracks the recent conflict rate of a client's transactions
// (an exponentially weighted moving average of 1 per conflict, 0 per
// success) to scale Txn's backoff.
type contention struct {
	mu   sync.Mutex
	rate float64
}

const contentionAlpha = 0.2

func (c *contention) observe(conflict bool) {
	x := 0.0
	if conflict {
		x = 1
	}
	c.mu.Lock()
	c.rate += contentionAlpha * (x - c.rate)
	c.mu.Unlock()
}

// backoff is the pause before retry n (1 = the first retry).
func (c *contention) backoff(o TxnOptions, n int) time.Duration {
	c.mu.Lock()
	rate := c.rate
	c.mu.Unlock()
	base := float64(o.BaseBackoff) * (1 + 15*rate)
	ceiling := min(float64(o.MaxBackoff), base*float64(uint64(1)<<min(n-1, 30)))
	if ceiling < 1 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(ceiling)))
}
