package engine

import (
	"crypto/sha256"
	"testing"

	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

func cachedTx(n byte, size int) *decodedTx {
	h := sha256.Sum256([]byte{n})
	return &decodedTx{hash: h[:], signer: "s", verified: true, size: size}
}

// The tx cache keeps only verified, passing txs; hands out copies; misses
// when the chain id or limits differ; and stays within its count and byte
// bounds, forgetting the oldest first.
func TestTxCacheBoundsAndKeys(t *testing.T) {
	lim := types.DefaultParams().Limits()
	c := newTxCache(3, 16*1000)
	c.put(cachedTx(1, 100), 100, "c", lim)
	unverified := cachedTx(2, 100)
	unverified.verified = false
	c.put(unverified, 100, "c", lim)
	failed := cachedTx(3, 100)
	failed.code = types.CodeBadSignature
	c.put(failed, 100, "c", lim)
	if c.len() != 1 || c.get(unverified.hash, "c", lim) != nil || c.get(failed.hash, "c", lim) != nil {
		t.Fatalf("kept a tx that did not pass: %d entries", c.len())
	}
	d := c.get(cachedTx(1, 0).hash, "c", lim)
	if d == nil || !d.verified || d.signer != "s" {
		t.Fatalf("get: %+v", d)
	}
	d.signer, d.code = "changed", types.CodeUnauthorized // a stateful check's edits stay on the copy
	if again := c.get(d.hash, "c", lim); again.signer != "s" || again.code != types.CodeOK {
		t.Fatalf("the cache entry changed: %+v", again)
	}
	other := lim
	other.MaxKeyBytes++
	if c.get(d.hash, "other-chain", lim) != nil || c.get(d.hash, "c", other) != nil {
		t.Fatal("hit under another chain id or other limits")
	}
	if c.get(d.hash[:31], "c", lim) != nil {
		t.Fatal("hit on a short hash")
	}
	// Count bound: 3 entries; the oldest goes first.
	for n := byte(10); n < 14; n++ {
		c.put(cachedTx(n, 100), 100, "c", lim)
	}
	if c.len() != 3 || c.get(cachedTx(1, 0).hash, "c", lim) != nil || c.get(cachedTx(10, 0).hash, "c", lim) != nil ||
		c.get(cachedTx(13, 0).hash, "c", lim) == nil {
		t.Fatalf("count bound: %d entries", c.len())
	}
	// Byte bound: each tx is charged twice its size; 32,000 bytes hold
	// sixteen 1,000-byte txs, the oldest go first.
	b := newTxCache(100, 32*1000)
	for n := byte(20); n < 40; n++ {
		b.put(cachedTx(n, 1000), 1000, "c", lim)
	}
	if b.len() != 16 || b.cost != 32*1000 || b.get(cachedTx(23, 0).hash, "c", lim) != nil || b.get(cachedTx(24, 0).hash, "c", lim) == nil {
		t.Fatalf("byte bound: %d entries, cost %d", b.len(), b.cost)
	}
	// A tx charged more than a sixteenth of the budget is not kept.
	b.put(cachedTx(50, 1001), 1001, "c", lim)
	if b.get(cachedTx(50, 0).hash, "c", lim) != nil {
		t.Fatal("kept an oversized tx")
	}
	var nilCache *txCache
	nilCache.put(cachedTx(1, 1), 1, "c", lim)
	if nilCache.get(cachedTx(1, 0).hash, "c", lim) != nil || nilCache.len() != 0 {
		t.Fatal("nil cache holds something")
	}
}

// A tx verified once is decoded from the cache afterwards, and a tx that
// differs in one signature byte (another hash) is verified on its own and
// refused: no entry is trusted for a different tx.
func TestTxCacheNeverTrustsAnotherTx(t *testing.T) {
	e := newTestEngine(t, storage.NewInMemoryStore(), NewCachedVerifier(1024))
	good := typestest.SignTx(t, &types.TxBody{ChainId: typestest.Chain, Nonce: 1, ValidUntilHeight: 20, Ops: []types.Op{typestest.Put("acct/1", "5")}}, typestest.Key("alice"))
	if out := e.CheckTx(good); out.Code != types.CodeOK {
		t.Fatal(out.Log)
	}
	if e.txs.len() != 1 {
		t.Fatalf("tx cache holds %d txs after one CheckTx", e.txs.len())
	}
	var tx types.Tx
	if err := tx.Unmarshal(good); err != nil {
		t.Fatal(err)
	}
	tx.Signatures[0].Signature[0] ^= 1
	forged, err := tx.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if out := e.CheckTx(forged); out.Code != types.CodeBadSignature {
		t.Fatalf("forged signature after the real tx was cached: %s %s", out.Code, out.Log)
	}
	if ok, why := e.ProcessProposal(e.Height()+1, [][]byte{good, forged}); ok || why == "" {
		t.Fatal("ProcessProposal accepted the forged tx")
	}
	res := runBlock(t, e, forged, good)
	if res.Txs[0].Code != types.CodeBadSignature || res.Txs[1].Code != types.CodeOK {
		t.Fatalf("block: %s, %s", res.Txs[0].Code, res.Txs[1].Code)
	}
	// The cached tx is now a replay: the stateful checks still run on a hit.
	if out := e.CheckTx(good); out.Code != types.CodeReplay {
		t.Fatalf("CheckTx of a committed tx from the cache: %s", out.Code)
	}
}
