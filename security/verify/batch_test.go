package verify

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
)

// itemKind says how a test item was built and what Verify must say.
type itemKind int

const (
	kindValid itemKind = iota
	kindTamperedMsg
	kindTamperedSig
	kindWrongKey
	kindShortKey
	kindLongSig
	kindNilSig
	kindRandomKey // 32 random bytes: often not a curve point
	kindIdentity  // ZIP-215 edge case, valid for any message
	numKinds
)

var testKeys = sync.OnceValue(func() []ed25519.PrivateKey {
	keys := make([]ed25519.PrivateKey, 16)
	for i := range keys {
		_, keys[i], _ = ed25519.GenerateKey(nil)
	}
	return keys
})

// mixedItems builds n items of random kinds, reproducibly from seed.
func mixedItems(n int, seed uint64) ([]Item, []itemKind) {
	r := rand.New(rand.NewPCG(seed, 0))
	keys := testKeys()
	items := make([]Item, n)
	kinds := make([]itemKind, n)
	for i := range items {
		ki := r.IntN(len(keys))
		priv := keys[ki]
		msg := fmt.Appendf(nil, "msg %d %d", seed, i)
		sig := ed25519.Sign(priv, msg)
		pub := []byte(priv.Public().(ed25519.PublicKey))
		k := kindValid
		if r.IntN(2) == 0 { // about half valid
			k = itemKind(r.IntN(int(numKinds)))
		}
		switch k {
		case kindTamperedMsg:
			msg = append(msg, '!')
		case kindTamperedSig:
			sig[r.IntN(ed25519.SignatureSize)] ^= 1 << r.IntN(8)
		case kindWrongKey:
			other := keys[(ki+1+r.IntN(len(keys)-1))%len(keys)]
			pub = []byte(other.Public().(ed25519.PublicKey))
		case kindShortKey:
			pub = pub[:r.IntN(ed25519.PublicKeySize)]
		case kindLongSig:
			sig = append(sig, 0)
		case kindNilSig:
			sig = nil
		case kindRandomKey:
			pub = make([]byte, ed25519.PublicKeySize)
			for j := range pub {
				pub[j] = byte(r.Uint32())
			}
		case kindIdentity:
			pub, sig = identityKeyAndSig()
		}
		items[i] = Item{PubKey: pub, Msg: msg, Sig: sig}
		kinds[i] = k
	}
	return items, kinds
}

func TestVerifyBatchMatchesVerify(t *testing.T) {
	for _, n := range []int{0, 1, 7, 64, 1000} {
		for _, chunk := range []int{batchChunk, 3, 100} {
			t.Run(fmt.Sprintf("n=%d/chunk=%d", n, chunk), func(t *testing.T) {
				defer func(c int) { batchChunk = c }(batchChunk)
				batchChunk = chunk
				items, kinds := mixedItems(n, uint64(n*1000+chunk))
				got := Batch(items)
				if len(got) != n {
					t.Fatalf("len %d, want %d", len(got), n)
				}
				for i, it := range items {
					want := Signature(it.PubKey, it.Msg, it.Sig)
					if got[i] != want {
						t.Fatalf("item %d (kind %d): batch %v, single %v", i, kinds[i], got[i], want)
					}
					if wantTrue := kinds[i] == kindValid; wantTrue && !want {
						t.Fatalf("item %d: valid signature rejected", i)
					}
					if k := kinds[i]; k != kindValid && k != kindIdentity && k != kindRandomKey && want {
						t.Fatalf("item %d (kind %d): invalid signature accepted", i, k)
					}
				}
				// A pure function: the same input gives the same answer.
				again := Batch(items)
				for i := range got {
					if got[i] != again[i] {
						t.Fatalf("item %d: %v then %v", i, got[i], again[i])
					}
				}
			})
		}
	}
}

func TestVerifyBatchAllValidAndOneBad(t *testing.T) {
	items, _ := validItems(600)
	for i, ok := range Batch(items) {
		if !ok {
			t.Fatalf("item %d rejected", i)
		}
	}
	for _, bad := range []int{0, 299, 599} {
		items[bad].Msg = append(bytes.Clone(items[bad].Msg), 'x')
		got := Batch(items)
		for i, ok := range got {
			if ok == (i == bad) {
				t.Fatalf("bad=%d: item %d = %v", bad, i, ok)
			}
		}
		items[bad].Msg = items[bad].Msg[:len(items[bad].Msg)-1]
	}
}

func TestVerifyBatchSingleProc(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	items, _ := mixedItems(700, 7)
	got := Batch(items)
	for i, it := range items {
		if got[i] != Signature(it.PubKey, it.Msg, it.Sig) {
			t.Fatalf("item %d differs", i)
		}
	}
}

// validItems returns n valid items signed by n distinct keys.
func validItems(n int) ([]Item, [][]byte) {
	items := make([]Item, n)
	pubs := make([][]byte, n)
	for i := range items {
		pub, priv, _ := ed25519.GenerateKey(nil)
		msg := fmt.Appendf(nil, "tx %d", i)
		items[i] = Item{PubKey: pub, Msg: msg, Sig: ed25519.Sign(priv, msg)}
		pubs[i] = pub
	}
	return items, pubs
}

var benchItems = sync.OnceValue(func() []Item {
	items, _ := validItems(10000)
	return items
})

func reportSigsPerSec(b *testing.B, n int) {
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "sigs/s")
}

// BenchmarkVerifyBatch verifies 10,000 valid signatures per op.
func BenchmarkVerifyBatch(b *testing.B) {
	items := benchItems()
	for b.Loop() {
		for _, ok := range Batch(items) {
			if !ok {
				b.Fatal("rejected")
			}
		}
	}
	reportSigsPerSec(b, len(items))
}

// BenchmarkVerifyBatchOneBad is BenchmarkVerifyBatch with one bad
// signature, which sends one chunk down the one-by-one path.
func BenchmarkVerifyBatchOneBad(b *testing.B) {
	all := append([]Item(nil), benchItems()...)
	all[len(all)/2].Msg = []byte("tampered")
	for b.Loop() {
		Batch(all)
	}
	reportSigsPerSec(b, len(all))
}

// BenchmarkVerifySerial verifies the same 10,000 signatures one by one on
// one goroutine, for comparison.
func BenchmarkVerifySerial(b *testing.B) {
	items := benchItems()
	for b.Loop() {
		for _, it := range items {
			if !Signature(it.PubKey, it.Msg, it.Sig) {
				b.Fatal("rejected")
			}
		}
	}
	reportSigsPerSec(b, len(items))
}

// BenchmarkVerifyBatchChunk tunes batchChunk.
func BenchmarkVerifyBatchChunk(b *testing.B) {
	items := benchItems()
	for _, chunk := range []int{64, 128, 256, 512, 1024, 5000} {
		b.Run(fmt.Sprint(chunk), func(b *testing.B) {
			defer func(c int) { batchChunk = c }(batchChunk)
			batchChunk = chunk
			for b.Loop() {
				Batch(items)
			}
			reportSigsPerSec(b, len(items))
		})
	}
}

// BenchmarkVerifyBatchFewKeys verifies 10,000 valid signatures by 16 keys,
// as a ledger's blocks carry many txs per signer: the decompressed keys
// come from the key cache.
func BenchmarkVerifyBatchFewKeys(b *testing.B) {
	keys := testKeys()
	items := make([]Item, 10000)
	for i := range items {
		priv := keys[i%len(keys)]
		msg := fmt.Appendf(nil, "few keys %d", i)
		items[i] = Item{PubKey: priv.Public().(ed25519.PublicKey), Msg: msg, Sig: ed25519.Sign(priv, msg)}
	}
	for b.Loop() {
		for _, ok := range Batch(items) {
			if !ok {
				b.Fatal("rejected")
			}
		}
	}
	reportSigsPerSec(b, len(items))
}
