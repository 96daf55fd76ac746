package engine

import (
	"sync"

	"github.com/dstt/dstt/types"
)

// txCache remembers the txs this node has decoded and whose signatures all
// verified, by the SHA-256 of their exact bytes, so a tx is decoded and
// verified once per node although CheckTx, the mempool's recheck after
// every block, PrepareProposal, ProcessProposal and FinalizeBlock all see
// it. A hit stands for the same bytes decoded under the same chain id and
// the same limits (both are kept in the entry and compared), so it gives
// exactly the decodedTx a fresh decode and verification would: the answers
// are the same with or without the cache, which is node-local and cannot
// make replicas disagree. Only txs that passed both are kept; a failing tx
// is decoded again each time (it costs little and leaves the cache alone).
//
// It is bounded by count and by bytes (each entry is charged twice its tx
// size, for the bytes and the decoded copy); when full it forgets the
// oldest entries. A nil *txCache is a valid, always-empty cache. It is
// safe for concurrent use.
type txCache struct {
	mu                sync.Mutex
	maxCount, maxCost int
	cost              int
	entries           map[[32]byte]*txCacheEntry
	order             [][32]byte // insertion order, oldest at head
	head              int
}

type txCacheEntry struct {
	d       decodedTx // as decode and verifyAll left it, before any stateful check
	chainID string
	limits  types.Limits
	cost    int
}

// Default bounds of the tx cache a CachedVerifier carries: twice the
// mempool's 20,000 txs, and 128 MiB of charged bytes (32 MiB of typical
// 200-byte txs is far less; the byte bound is for large txs).
const (
	txCacheCount = 40_000
	txCacheBytes = 128 << 20
)

func newTxCache(maxCount, maxCost int) *txCache {
	return &txCache{maxCount: maxCount, maxCost: maxCost, entries: make(map[[32]byte]*txCacheEntry)}
}

// get returns a copy of the entry for hash decoded under chainID and
// limits, or nil.
func (c *txCache) get(hash []byte, chainID string, limits types.Limits) *decodedTx {
	if c == nil || len(hash) != 32 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ent, ok := c.entries[[32]byte(hash)]
	if !ok || ent.chainID != chainID || ent.limits != limits {
		return nil
	}
	d := ent.d
	return &d
}

// put remembers d (decoded from size bytes under chainID and limits, all
// its signatures verified). Call it before any stateful check touches d.
func (c *txCache) put(d *decodedTx, size int, chainID string, limits types.Limits) {
	cost := 2 * size
	if c == nil || len(d.hash) != 32 || !d.verified || d.code != types.CodeOK || cost > c.maxCost/16 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	key := [32]byte(d.hash)
	if _, ok := c.entries[key]; ok {
		return
	}
	c.entries[key] = &txCacheEntry{d: *d, chainID: chainID, limits: limits, cost: cost}
	c.order = append(c.order, key)
	c.cost += cost
	for len(c.entries) > c.maxCount || c.cost > c.maxCost {
		c.evictOldest()
	}
}

func (c *txCache) evictOldest() {
	key := c.order[c.head]
	c.order[c.head] = [32]byte{}
	c.head++
	if ent, ok := c.entries[key]; ok {
		c.cost -= ent.cost
		delete(c.entries, key)
	}
	if c.head > len(c.order)/2 { // compact: the slice stays within twice the live entries
		c.order = append(c.order[:0], c.order[c.head:]...)
		c.head = 0
	}
}

// len reports how many txs the cache holds.
func (c *txCache) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
