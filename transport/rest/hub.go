package rest

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/cometbft/cometbft/libs/log"

	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/types"
)

// hub follows committed blocks, one at a time and in order, from the
// backend's block subscription (filling any gap from the store), and
// hands each block to the commit waiters of its txs and to the event
// streams. It keeps exactly one block subscription however many clients
// wait, so a block costs one map lookup per tx, not one query match per
// waiting client as CometBFT's broadcast_tx_commit does.
type hub struct {
	backend Backend
	metrics *metrics
	logger  log.Logger
	now     func() time.Time
	onDrop  func() // tests: called when a lagging stream is dropped

	mu      sync.Mutex
	last    int64  // last height dispatched
	epoch   uint64 // bumped by every block that may have changed the access policy
	pending map[[32]byte][]*waiter
	subs    map[*stream]struct{}
}

// waiter is one submitted tx the hub watches for. ch (buffered) receives
// its block outcome; a nil ch only records commit latency.
type waiter struct {
	admitted time.Time
	ch       chan api.TxOutcome
}

// stream is one event subscriber. The hub never blocks on it: a stream
// that falls EventBuffer blocks behind is closed (lagged) and its client
// resumes from its last event id.
type stream struct {
	ch     chan blockWrites
	lagged bool
}

// blockWrites are one block's writes (possibly none).
type blockWrites struct {
	height int64
	epoch  uint64 // the policy epoch after the block
	evs    []api.WriteEvent
}

// pendingTTL bounds how long the hub remembers a tx that never shows up in
// a block (evicted from the mempool, or expired).
const pendingTTL = 10 * time.Minute

func newHub(b Backend, m *metrics, logger log.Logger) *hub {
	return &hub{
		backend: b, metrics: m, logger: logger, now: time.Now,
		pending: make(map[[32]byte][]*waiter),
		subs:    make(map[*stream]struct{}),
	}
}

// start records the committed height and runs the block loop until ctx
// ends. It returns once the first subscription is in place.
func (h *hub) start(ctx context.Context) error {
	ch, err := h.backend.SubscribeBlocks(ctx)
	if err != nil {
		return err
	}
	height, err := h.backend.CommittedHeight(ctx)
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.last = height
	h.mu.Unlock()
	h.metrics.height.Set(float64(height))
	go h.run(ctx, ch)
	return nil
}

func (h *hub) run(ctx context.Context, ch <-chan Block) {
	sweep := time.NewTicker(time.Minute)
	defer sweep.Stop()
	retry := 50 * time.Millisecond
	for {
		for ch != nil {
			select {
			case b, ok := <-ch:
				if !ok {
					ch = nil
					break
				}
				h.advance(ctx, b)
			case <-sweep.C:
				h.sweep()
			case <-ctx.Done():
				h.closeStreams()
				return
			}
		}
		if ctx.Err() != nil {
			h.closeStreams()
			return
		}
		var err error
		if ch, err = h.backend.SubscribeBlocks(ctx); err != nil {
			h.logger.Error("block subscription failed; retrying", "err", err, "in", retry)
			t := time.NewTimer(retry)
			select {
			case <-t.C:
			case <-ctx.Done():
			}
			retry = min(2*retry, 5*time.Second)
			continue
		}
		retry = 50 * time.Millisecond
		// Blocks committed while unsubscribed are picked up from the store
		// by advance when the next one arrives.
	}
}

// advance dispatches b, first reading any blocks between the last one
// dispatched and b from the store.
func (h *hub) advance(ctx context.Context, b Block) {
	h.mu.Lock()
	last := h.last
	h.mu.Unlock()
	if b.Height <= last {
		return
	}
	first := h.firstStored(ctx, last+1, b.Height)
	for next := first; next < b.Height; next++ {
		gap, err := h.backend.LoadBlock(ctx, next)
		if err != nil {
			// Streams cannot skip a block: end them, their clients resume
			// from the store. Waiters in the lost block time out and can
			// poll GET /v1/txs/{hash}.
			h.logger.Error("cannot read a missed block", "height", next, "err", err)
			h.closeStreams()
			h.mu.Lock()
			h.last = next
			h.mu.Unlock()
			continue
		}
		h.dispatch(gap)
	}
	h.dispatch(b)
}

// firstStored is where filling the gap from next up to (not including) b
// starts: next, unless the node's store begins above it — a node that
// joined by state sync or was restored from a backup starts its block store
// above the snapshot height, and pruned blocks are gone. Those heights are
// skipped with one log line instead of one failed read each (tens of
// thousands after a state sync), and the streams end so their clients
// resume from the store.
func (h *hub) firstStored(ctx context.Context, next, b int64) int64 {
	if next >= b {
		return next
	}
	st, err := h.backend.Status(ctx)
	if err != nil || st.EarliestHeight <= next {
		return next
	}
	skipTo := min(st.EarliestHeight, b)
	h.logger.Info("blocks below the node's earliest stored block skipped (state sync, restore or pruning)",
		"from", next, "to", skipTo-1)
	h.closeStreams()
	h.mu.Lock()
	h.last = skipTo - 1
	h.mu.Unlock()
	return skipTo
}

// dispatch resolves the waiters of b's txs and feeds the streams.
func (h *hub) dispatch(b Block) {
	now := h.now()
	h.mu.Lock()
	havePending, haveSubs := len(h.pending) > 0, len(h.subs) > 0
	h.mu.Unlock()
	// With no stream to filter, any block may count as a policy change:
	// that only empties a cache nobody uses. With streams, decode to see.
	policy := !haveSubs || changesPolicy(b)
	var hashes [][32]byte
	if havePending {
		hashes = txHashes(b.Txs)
	}

	hits, subs, epoch := h.settle(b, hashes, policy)
	h.resolve(hits, now)
	h.metrics.observeCommitted(resultCodes(b))
	h.metrics.height.Set(float64(b.Height))

	if len(subs) == 0 {
		return
	}
	h.feed(subs, blockWrites{height: b.Height, epoch: epoch, evs: api.BlockWrites(b.Height, b.Time, b.Txs, b.Results)})
}

// commitHit is a committed tx's outcome and the waiters it goes to.
type commitHit struct {
	ws  []*waiter
	out api.TxOutcome
}

// txHashes is the SHA-256 of each tx.
func txHashes(txs [][]byte) [][32]byte {
	hashes := make([][32]byte, len(txs))
	for i, tx := range txs {
		hashes[i] = sha256.Sum256(tx)
	}
	return hashes
}

// resultCodes is the result code of each of b's txs (0 where the block has
// no result for it).
func resultCodes(b Block) []uint32 {
	codes := make([]uint32, len(b.Txs))
	for i := range b.Txs {
		if i < len(b.Results) && b.Results[i] != nil {
			codes[i] = b.Results[i].Code
		}
	}
	return codes
}

// settle records b as dispatched, in one critical section: it takes the
// waiters of b's txs (by their hashes) with their outcomes, bumps the
// policy epoch when policy is set, and returns the hits, the streams
// subscribed now and the epoch after b.
func (h *hub) settle(b Block, hashes [][32]byte, policy bool) ([]commitHit, []*stream, uint64) {
	var hits []commitHit
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range hashes {
		ws, ok := h.pending[hashes[i]]
		if !ok {
			continue
		}
		delete(h.pending, hashes[i])
		hits = append(hits, commitHit{ws: ws, out: blockOutcome(b, i, hashes[i])})
	}
	h.last = b.Height
	if policy {
		h.epoch++
	}
	var subs []*stream
	if len(h.subs) > 0 {
		subs = make([]*stream, 0, len(h.subs))
		for s := range h.subs {
			subs = append(subs, s)
		}
	}
	return hits, subs, h.epoch
}

// resolve records the commit latency of every hit's waiter and hands the
// outcome to those that wait for it.
func (h *hub) resolve(hits []commitHit, now time.Time) {
	for _, ht := range hits {
		for _, w := range ht.ws {
			h.metrics.commitLatency.Observe(seconds(now.Sub(w.admitted)))
			if w.ch != nil {
				w.ch <- ht.out
			}
		}
	}
}

// feed hands evs to each of subs still subscribed, never blocking: a
// stream whose buffer is full is dropped as lagged.
func (h *hub) feed(subs []*stream, evs blockWrites) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range subs {
		if _, live := h.subs[s]; !live {
			continue
		}
		select {
		case s.ch <- evs:
		default:
			h.endLagged(s)
			h.metrics.lagged.Inc()
			if h.onDrop != nil {
				h.onDrop()
			}
		}
	}
}

// blockOutcome is tx i of b as a TxOutcome.
func blockOutcome(b Block, i int, hash [32]byte) api.TxOutcome {
	out := api.TxOutcome{Hash: hexUpper(hash[:]), Height: b.Height, Index: uint32(i), Status: api.StatusCommitted}
	if i >= len(b.Results) || b.Results[i] == nil {
		out.Status, out.Code, out.CodeName = api.StatusFailed, uint32(types.CodeInternal), types.CodeInternal.Name()
		out.Log = "the block has no result for this tx"
		return out
	}
	r := b.Results[i]
	out.Code, out.CodeName, out.Log = r.Code, types.Code(r.Code).Name(), r.Log
	if r.Code != 0 {
		out.Status = api.StatusFailed
		return out
	}
	var rec types.TxResult
	if err := rec.Unmarshal(r.Data); err == nil {
		out.Writes = api.Writes(rec.Writes)
	}
	return out
}

// watch registers a submitted tx before it is handed to the mempool. With
// result true the returned waiter's channel gets the block outcome.
func (h *hub) watch(hash [32]byte, result bool) *waiter {
	w := &waiter{admitted: h.now()}
	if result {
		w.ch = make(chan api.TxOutcome, 1)
	}
	h.mu.Lock()
	h.pending[hash] = append(h.pending[hash], w)
	h.mu.Unlock()
	return w
}

// forget drops a waiter whose tx will not be committed through it.
func (h *hub) forget(hash [32]byte, w *waiter) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ws := h.pending[hash]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(h.pending, hash)
	} else {
		h.pending[hash] = ws
	}
}

// sweep drops latency-only waiters older than pendingTTL (txs that left the
// mempool without a block); result waiters are dropped by their requests.
func (h *hub) sweep() {
	cutoff := h.now().Add(-pendingTTL)
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, ws := range h.pending {
		keep := ws[:0]
		for _, w := range ws {
			if w.ch != nil || w.admitted.After(cutoff) {
				keep = append(keep, w)
			}
		}
		if len(keep) == 0 {
			delete(h.pending, k)
		} else {
			h.pending[k] = keep
		}
	}
}

// subscribe adds an event stream. It returns the stream and the last height
// dispatched: the stream receives every block above it.
func (h *hub) subscribe(buffer int) (*stream, int64) {
	s := &stream{ch: make(chan blockWrites, buffer)}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subs[s] = struct{}{}
	return s, h.last
}

// unsubscribe removes a stream (idempotent).
func (h *hub) unsubscribe(s *stream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.ch)
	}
}

// closeStreams ends every stream, marking them lagged so their clients
// resume from the store.
func (h *hub) closeStreams() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		h.endLagged(s)
	}
}

// endLagged ends stream s, marked lagged so that its client resumes from
// the store. The caller holds h.mu.
func (h *hub) endLagged(s *stream) {
	s.lagged = true
	delete(h.subs, s)
	close(s.ch)
}

// policyEpoch is the current policy epoch.
func (h *hub) policyEpoch() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.epoch
}
