package verify

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	voied25519 "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// TestKeyCacheExpandsOnSecondUseAndStaysBounded: a key is expanded from its
// second use on, to the same key; invalid encodings are never expanded;
// the cache holds at most its size, evicting the oldest key.
func TestKeyCacheExpandsOnSecondUseAndStaysBounded(t *testing.T) {
	c := newKeyCache(3)
	ks := testKeys()
	pub := func(i int) []byte { return ks[i].Public().(ed25519.PublicKey) }
	if c.expanded(pub(0)) != nil {
		t.Fatal("expanded on first sight")
	}
	x := c.expanded(pub(0))
	if x == nil {
		t.Fatal("not expanded on second use")
	}
	if got := x.CompressedY(); !bytes.Equal(got[:], pub(0)) {
		t.Fatalf("expanded key is %x, want %x", got, pub(0))
	}
	if c.expanded(pub(0)) != x {
		t.Fatal("third use expanded again")
	}
	for i := 1; i <= 3; i++ { // pushes key 0 out
		c.expanded(pub(i))
	}
	if len(c.m) != 3 || len(c.order) != 3 {
		t.Fatalf("cache holds %d keys (%d in order), want 3", len(c.m), len(c.order))
	}
	if _, ok := c.m[[32]byte(pub(0))]; ok {
		t.Fatal("the oldest key was not evicted")
	}
	if c.expanded(pub(0)) != nil {
		t.Fatal("an evicted key came back expanded")
	}
	bad := notAPoint(t)
	for range 3 {
		if c.expanded(bad) != nil {
			t.Fatal("an invalid encoding was expanded")
		}
	}
}

// TestVerifyBatchWarmKeysMatchesVerify: with every key already expanded in
// the cache, a batch holding bad signatures, tampered messages, wrong keys
// and invalid keys still gives each item the single-verification verdict,
// and rechecks the failing chunks one by one.
func TestVerifyBatchWarmKeysMatchesVerify(t *testing.T) {
	for _, chunk := range []int{batchChunk, 50, 7} {
		defer func(c int) { batchChunk = c }(batchChunk)
		batchChunk = chunk
		items, kinds := mixedItems(1500, uint64(chunk))
		Batch(items) // warms the key cache
		Batch(items)
		got := Batch(items)
		for i, it := range items {
			if want := Signature(it.PubKey, it.Msg, it.Sig); got[i] != want {
				t.Fatalf("chunk %d, item %d (kind %d): batch %v, single %v", chunk, i, kinds[i], got[i], want)
			}
		}
	}
}

// notAPoint returns a 32-byte encoding that does not decompress to a curve
// point.
func notAPoint(t *testing.T) []byte {
	for b := range 256 {
		enc := make([]byte, ed25519.PublicKeySize)
		enc[0] = byte(b)
		if _, err := voied25519.NewExpandedPublicKey(enc); err != nil {
			return enc
		}
	}
	t.Fatal("no invalid encoding found")
	return nil
}
