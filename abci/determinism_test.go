package abci

import (
	"bytes"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
)

// randomBlocks builds a seeded, reproducible workload: puts, deletes,
// checks against right and wrong versions, replays, bad signatures,
// expired txs and garbage, over a small key space so txs collide.
type workload struct {
	rng     *rand.Rand
	signers []*security.LocalSigner
	sent    [][]byte
	nonce   uint64
}

func newWorkload(seed int64) *workload {
	w := &workload{rng: rand.New(rand.NewSource(seed))}
	for i := range 5 {
		w.signers = append(w.signers, testKey(fmt.Sprintf("signer%d", i)))
	}
	return w
}

func (w *workload) key() string { return fmt.Sprintf("k%d", w.rng.Intn(12)) }

func (w *workload) tx(t testing.TB, height uint64, versions func(string) types.Version) []byte {
	r := w.rng.Intn(100)
	switch {
	case r < 4 && len(w.sent) > 0: // replay
		return w.sent[w.rng.Intn(len(w.sent))]
	case r < 6: // garbage
		b := make([]byte, w.rng.Intn(40))
		w.rng.Read(b)
		return b
	}
	w.nonce++
	body := types.TxBody{ChainId: testChain, Nonce: w.nonce, ValidUntilHeight: height + uint64(w.rng.Intn(5))}
	if r < 9 {
		body.ValidUntilHeight = height - 1 // expired
	}
	for range 1 + w.rng.Intn(4) {
		k := w.key()
		switch op := w.rng.Intn(10); {
		case op < 5:
			body.Ops = append(body.Ops, putOp(k, fmt.Sprintf("v%d", w.rng.Intn(1000))))
		case op < 7:
			body.Ops = append(body.Ops, deleteOp(k))
		case op < 9:
			body.Ops = append(body.Ops, checkOp(k, versions(k))) // usually right
		default:
			body.Ops = append(body.Ops, checkOp(k, types.Version{Height: uint64(w.rng.Intn(int(height) + 1)), TxIndex: 0}))
		}
	}
	tx := signTx(t, &body, w.signers[w.rng.Intn(len(w.signers))])
	if w.rng.Intn(30) == 0 { // tamper with the signature
		tx[len(tx)-3] ^= 1
	}
	w.sent = append(w.sent, tx)
	return tx
}

// TestReplicasAgree feeds the same seeded random blocks to four engines —
// two on in-memory stores, one on Pebble, one restarted every few blocks,
// with and without the verification cache — and requires identical app
// hashes and tx outcomes at every height.
func TestReplicasAgree(t *testing.T) {
	for _, seed := range []int64{1, 2, 3} {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { replicasAgree(t, seed, 60) })
	}
}

func replicasAgree(t *testing.T, seed int64, blocks int) {
	pebbleDir := t.TempDir()
	ps, err := storage.NewPebbleStore(pebbleDir, storage.DefaultPebbleOptions())
	if err != nil {
		t.Fatal(err)
	}
	restartStore := storage.NewInMemoryStore()
	engines := []*Engine{
		newTestEngine(t, storage.NewInMemoryStore(), NewCachedVerifier(64)),
		newTestEngine(t, storage.NewInMemoryStore(), PlainVerifier{}),
		newTestEngine(t, ps, NewCachedVerifier(1<<16)),
		newTestEngine(t, restartStore, PlainVerifier{}),
	}
	defer func() { _ = ps.Close() }()
	w := newWorkload(seed)
	ref := engines[0]
	versions := func(k string) types.Version {
		kv, err := ref.Get(k, 0)
		if err != nil {
			return types.Version{}
		}
		return kv.Version
	}
	changes := 0
	for h := uint64(1); h <= uint64(blocks); h++ {
		var txs [][]byte
		if w.rng.Intn(8) != 0 { // some blocks are empty
			for range w.rng.Intn(25) {
				txs = append(txs, w.tx(t, h, versions))
			}
		}
		// Warm one cache with CheckTx, as a validator's mempool would.
		for _, tx := range txs {
			engines[0].CheckTx(tx)
		}
		block := Block{Height: h, Time: time.Unix(int64(h), 0), Txs: txs}
		var first *BlockResult
		for i, e := range engines {
			res, err := e.FinalizeBlock(block)
			if err != nil {
				t.Fatalf("engine %d height %d: %v", i, h, err)
			}
			if err := e.Commit(); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first = res
				continue
			}
			if !bytes.Equal(res.AppHash, first.AppHash) {
				t.Fatalf("seed %d height %d: engine %d app hash %X, engine 0 %X", seed, h, i, res.AppHash, first.AppHash)
			}
			for j := range res.Txs {
				a, b := res.Txs[j], first.Txs[j]
				if a.Code != b.Code || a.Log != b.Log || len(a.Writes) != len(b.Writes) {
					t.Fatalf("seed %d height %d tx %d: engine %d %v %q, engine 0 %v %q", seed, h, j, i, a.Code, a.Log, b.Code, b.Log)
				}
			}
		}
		for _, o := range first.Txs {
			if o.Code == types.CodeOK && len(o.Writes) > 0 {
				changes++
			}
		}
		if h%7 == 0 { // restart engine 3 over its store
			engines[3] = newTestEngine(t, restartStore, PlainVerifier{})
		}
	}
	if changes == 0 {
		t.Fatalf("seed %d: the workload committed no writes; the test proves nothing", seed)
	}
	// Every replica reads the same values.
	for k := range 12 {
		key := fmt.Sprintf("k%d", k)
		want, werr := ref.Get(key, 0)
		for i, e := range engines[1:] {
			got, gerr := e.Get(key, 0)
			if (werr == nil) != (gerr == nil) || string(got.Value) != string(want.Value) || got.Version != want.Version {
				t.Fatalf("key %s: engine %d has %v/%v, engine 0 %v/%v", key, i+1, got, gerr, want, werr)
			}
		}
	}
}
