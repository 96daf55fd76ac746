package engine

import (
	"crypto/sha256"

	"github.com/dstt/dstt/security/verify"
)

// CachedVerifier verifies signatures in parallel batches and remembers the
// ones that verified, so a validator checks each tx's signatures once even
// though CheckTx, PrepareProposal, ProcessProposal and FinalizeBlock all
// ask. The cache is node-local; the answers are the same with or without
// it, so it cannot make replicas disagree.
type CachedVerifier struct {
	cache *verify.Cache
}

// NewCachedVerifier remembers up to size verified signatures.
func NewCachedVerifier(size int) *CachedVerifier {
	return &CachedVerifier{cache: verify.NewCache(size)}
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

// PlainVerifier verifies every signature, with no cache. Tests and
// benchmarks use it to measure the cold path.
type PlainVerifier struct{}

// VerifyBatch verifies items in parallel batches.
func (PlainVerifier) VerifyBatch(items []verify.Item) []bool { return verify.Batch(items) }
