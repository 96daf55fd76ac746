package verify

import (
	"container/list"
	"sync"
)

// Cache is a bounded set of keys whose signatures were already found
// valid, typically tx hashes: CheckTx adds a tx's hash after verifying it,
// and FinalizeBlock skips verification for hashes it finds. When full, Add
// evicts the oldest key. A miss only costs a re-verification, so the cache
// is node-local and never affects a replicated outcome, provided what is
// keyed is everything that was verified (a tx hash covers body and sigs).
//
// Has does not refresh a key. A Cache is safe for concurrent use. A nil *Cache is a valid,
// always-empty cache.
type Cache struct {
	mu    sync.Mutex
	max   int
	keys  map[[32]byte]*list.Element
	order *list.List // of [32]byte, oldest at the front
}

// NewCache returns a cache holding at most limit keys. A limit below
// 1 gives a cache that stays empty.
func NewCache(limit int) *Cache {
	return &Cache{
		max:   limit,
		keys:  make(map[[32]byte]*list.Element, min(max(limit, 0), 1<<16)),
		order: list.New(),
	}
}

// Add records key as verified, making it the newest entry, and evicts the
// oldest entries beyond the bound.
func (c *Cache) Add(key [32]byte) {
	if c == nil || c.max < 1 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.keys[key]; ok {
		c.order.MoveToBack(e)
		return
	}
	c.keys[key] = c.order.PushBack(key)
	for c.order.Len() > c.max {
		oldest := c.order.Front()
		delete(c.keys, c.order.Remove(oldest).([32]byte))
	}
}

// Has reports whether key is in the cache.
func (c *Cache) Has(key [32]byte) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.keys[key]
	return ok
}

// Remove drops key, if present (e.g. once its tx is committed).
func (c *Cache) Remove(key [32]byte) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.keys[key]; ok {
		c.order.Remove(e)
		delete(c.keys, key)
	}
}

// Len returns the number of keys held.
func (c *Cache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.keys)
}
