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
	ok := make([]bool, len(items))
	keys := make([][32]byte, len(items))
	var todo []verify.Item
	var todoAt []int
	for i, it := range items {
		keys[i] = sigCacheKey(it)
		if v.cache.Has(keys[i]) {
			ok[i] = true
			continue
		}
		todo = append(todo, it)
		todoAt = append(todoAt, i)
	}
	if len(todo) == 0 {
		return ok
	}
	for j, good := range verify.Batch(todo) {
		i := todoAt[j]
		ok[i] = good
		if good {
			v.cache.Add(keys[i])
		}
	}
	return ok
}

// PlainVerifier verifies every signature, with no cache (of signatures or
// of txs). Tests and benchmarks use it to measure the cold path.
type PlainVerifier struct{}

// VerifyBatch verifies items in parallel batches.
func (PlainVerifier) VerifyBatch(items []verify.Item) []bool { return verify.Batch(items) }
