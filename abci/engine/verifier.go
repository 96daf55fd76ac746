package engine

import (
	"crypto/sha256"

	"github.com/dstt/dstt/security/verify"
)

// CachedVerifier verifies signatures in parallel batches and remembers the
// ones that verified, so a validator checks each tx's signatures once even
// though CheckTx, PrepareProposal, ProcessProposal and FinalizeBlock all
// ask. The cache is node-local; the answers are the same with or without
// it, so it cannot make replicas disagree. It also carries the engine's
// cache of whole txs decoded and verified (txcache.go), so an engine with
// a CachedVerifier decodes and verifies each tx once.
type CachedVerifier struct {
	cache *verify.Cache
	txs   *txCache
}

// NewCachedVerifier remembers up to size verified signatures, and up to
// txCacheCount whole txs (txCacheBytes).
func NewCachedVerifier(size int) *CachedVerifier {
	return &CachedVerifier{cache: verify.NewCache(size), txs: newTxCache(txCacheCount, txCacheBytes)}
}

var _ Verifier = (*CachedVerifier)(nil)

func sigCacheKey(it verify.Item) [32]byte {
	h := sha256.New()
	h.Write(it.PubKey)
	h.Write(it.Sig)
	h.Write(it.Msg)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// VerifyBatch answers from the cache where it can and verifies the rest in
// one parallel batch.
func (v *CachedVerifier) VerifyBatch(items []verify.Item) []bool {
	return waitAll(v.StartBatch(items), len(items))
}

// StartBatch answers from the cache where it can and starts verifying the
// rest in one parallel batch; each signature that verifies joins the cache
// when it is waited for.
func (v *CachedVerifier) StartBatch(items []verify.Item) Verdicts {
	c := &cachedVerdicts{cache: v.cache, keys: make([][32]byte, len(items)), at: make([]int, len(items))}
	var todo []verify.Item
	for i, it := range items {
		c.keys[i] = sigCacheKey(it)
		if v.cache.Has(c.keys[i]) {
			c.at[i] = -1
			continue
		}
		c.at[i] = len(todo)
		todo = append(todo, it)
	}
	c.pending = verify.Start(todo)
	return c
}

// cachedVerdicts are a CachedVerifier's answers: at[i] is item i's place in
// the pending batch, or -1 when the cache answered.
type cachedVerdicts struct {
	cache   *verify.Cache
	keys    [][32]byte
	at      []int
	pending *verify.Pending
}

func (c *cachedVerdicts) Wait(i int) bool {
	if c.at[i] < 0 {
		return true
	}
	ok := c.pending.Wait(c.at[i])
	if ok {
		c.cache.Add(c.keys[i])
	}
	return ok
}

func waitAll(vs Verdicts, n int) []bool {
	ok := make([]bool, n)
	for i := range ok {
		ok[i] = vs.Wait(i)
	}
	return ok
}

// PlainVerifier verifies every signature, with no cache (of signatures or
// of txs). Tests and benchmarks use it to measure the cold path.
type PlainVerifier struct{}

// VerifyBatch verifies items in parallel batches.
func (PlainVerifier) VerifyBatch(items []verify.Item) []bool { return verify.Batch(items) }

// StartBatch starts verifying items in parallel batches.
func (PlainVerifier) StartBatch(items []verify.Item) Verdicts { return verify.Start(items) }
