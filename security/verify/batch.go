package verify

import (
	"crypto/ed25519"
	"runtime"
	"sync/atomic"

	voied25519 "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// Item is one signature to check: Sig over Msg by PubKey.
type Item struct {
	PubKey []byte
	Msg    []byte
	Sig    []byte
}

// batchChunk is how many signatures one batch equation covers. Larger
// chunks amortise the multiscalar multiplication better; smaller ones limit
// the work redone one by one when a chunk holds a bad signature. Chunks
// are handed to runtime.GOMAXPROCS workers.
var batchChunk = 512

// batchPrecomputeLimit mirrors curve25519-voi's threshold (94 entries)
// below which it expands each public key for a precomputed multiply; above
// it the expansion is wasted work, so larger chunks turn it off up front.
const batchPrecomputeLimit = 94

// Batch reports, for each item, whether Signature(item) holds. Items are
// split into chunks checked with one randomised ed25519 batch equation each
// (ZIP-215 rules, as CometBFT uses) across runtime.GOMAXPROCS goroutines;
// a chunk whose equation fails is rechecked signature by signature.
//
// The answer equals per-item Verify for every input: ZIP-215 verification
// is cofactored, so a batch of valid signatures always passes, and a batch
// holding an invalid one passes only with probability below 2^-128.
// Malformed items (wrong lengths, undecodable points) are false; Batch
// never panics on its input. The result has len(items) entries.
func Batch(items []Item) []bool { return Start(items).All() }

// Pending is a Batch under way: Start returns it at once and checks the
// chunks in order in the background, so a caller can use the first
// verdicts while later chunks are still being checked. Its methods may be
// called from one goroutine at a time; items must not change until All
// has returned or Wait has been called for every item.
type Pending struct {
	out   []bool
	chunk int
	done  []chan struct{} // per chunk, closed once its verdicts are in out
}

// Start begins a Batch of items and returns without waiting for it (a
// batch of one chunk is checked before Start returns).
func Start(items []Item) *Pending {
	n := len(items)
	chunk := batchChunk
	chunks := (n + chunk - 1) / chunk
	p := &Pending{out: make([]bool, n), chunk: chunk}
	workers := min(runtime.GOMAXPROCS(0), chunks)
	if workers <= 1 {
		if n > 0 {
			v := newChunkVerifier(min(n, chunk))
			for lo := 0; lo < n; lo += chunk {
				v.verify(items[lo:min(lo+chunk, n)], p.out[lo:min(lo+chunk, n)])
			}
		}
		return p
	}
	p.done = make([]chan struct{}, chunks)
	for c := range p.done {
		p.done[c] = make(chan struct{})
	}
	var next atomic.Int64
	for range workers {
		go func() {
			v := newChunkVerifier(chunk)
			for {
				c := int(next.Add(1) - 1)
				if c >= chunks {
					return
				}
				lo, hi := c*chunk, min((c+1)*chunk, n)
				v.verify(items[lo:hi], p.out[lo:hi])
				close(p.done[c])
			}
		}()
	}
	return p
}

// Wait reports whether item i's signature holds, waiting for its chunk.
func (p *Pending) Wait(i int) bool {
	if p.done != nil {
		<-p.done[i/p.chunk]
	}
	return p.out[i]
}

// All waits for every chunk and returns the verdicts, one per item.
func (p *Pending) All() []bool {
	for _, d := range p.done {
		<-d
	}
	return p.out
}

// chunkVerifier is one worker's reusable batch state.
type chunkVerifier struct {
	bv  *voied25519.BatchVerifier
	idx []int // positions in the chunk of the items added to bv
}

func newChunkVerifier(capacity int) *chunkVerifier {
	return &chunkVerifier{
		bv:  voied25519.NewBatchVerifierWithCapacity(capacity),
		idx: make([]int, 0, capacity),
	}
}

// verify fills out[i] with the verdict on items[i]; out starts all false.
func (v *chunkVerifier) verify(items []Item, out []bool) {
	v.bv.Reset()
	v.idx = v.idx[:0]
	for i := range items {
		// Wrong lengths can never verify; keep them out of the batch so
		// they cannot make curve25519-voi panic or sink a good chunk.
		if len(items[i].PubKey) == ed25519.PublicKeySize && len(items[i].Sig) == ed25519.SignatureSize {
			v.idx = append(v.idx, i)
		}
	}
	switch len(v.idx) {
	case 0:
		return
	case 1:
		it := &items[v.idx[0]]
		out[v.idx[0]] = Signature(it.PubKey, it.Msg, it.Sig)
		return
	}
	if len(v.idx) >= batchPrecomputeLimit {
		v.bv.ForceNoPublicKeyExpansion()
	}
	for _, i := range v.idx {
		it := &items[i]
		if x := keys.expanded(it.PubKey); x != nil {
			v.bv.AddExpandedWithOptions(x, it.Msg, it.Sig, verifyOptions)
		} else {
			v.bv.AddWithOptions(voied25519.PublicKey(it.PubKey), it.Msg, it.Sig, verifyOptions)
		}
	}
	// Verify runs the batch equation and, if it fails, checks each entry
	// on its own, reusing the points it already decoded.
	_, valid := v.bv.Verify(nil)
	for k, i := range v.idx {
		out[i] = valid[k]
	}
}
