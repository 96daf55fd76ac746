package abci

import (
	"fmt"
	"testing"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
)

// BenchmarkFinalizeCommit measures the engine on a real Pebble store:
// FinalizeBlock + Commit of 10,000-tx blocks, every tx a signed put to its
// own key, signatures verified cold (no CheckTx cache), as a validator that
// did not see the txs in its mempool would. Reports tx/s.
//
//	go test ./abci -run '^$' -bench FinalizeCommit -benchtime 20x
func BenchmarkFinalizeCommit(b *testing.B) {
	const perBlock = 10_000
	for _, bc := range []struct {
		name string
		v    func() Verifier
	}{
		{"cold", func() Verifier { return PlainVerifier{} }},
		{"cached", func() Verifier { return NewCachedVerifier(2 * perBlock) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			store, err := storage.NewPebbleStore(b.TempDir(), storage.DefaultPebbleOptions())
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			v := bc.v()
			e := newTestEngine(b, store, v)
			signers := make([]security.Signer, 16)
			for i := range signers {
				signers[i] = testKey(fmt.Sprint("bench", i))
			}
			value := make([]byte, 64)
			nonce := uint64(0)
			makeBlock := func(h uint64) [][]byte {
				txs := make([][]byte, perBlock)
				for i := range txs {
					nonce++
					body := types.TxBody{ChainId: testChain, Nonce: nonce, ValidUntilHeight: h + 5,
						Ops: []types.Op{putOp(fmt.Sprintf("acct/%d/%d", h, i), string(value))}}
					txs[i] = signTx(b, &body, signers[i%len(signers)])
				}
				return txs
			}
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				b.StopTimer()
				h := e.Height() + 1
				txs := makeBlock(h)
				if _, cached := v.(*CachedVerifier); cached {
					for _, tx := range txs { // CheckTx warms the cache, off the clock
						e.CheckTx(tx)
					}
				}
				b.StartTimer()
				res, err := e.FinalizeBlock(Block{Height: h, Txs: txs})
				if err != nil {
					b.Fatal(err)
				}
				if err := e.Commit(); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				for i, o := range res.Txs {
					if o.Code != types.CodeOK {
						b.Fatalf("tx %d: %s %s", i, o.Code, o.Log)
					}
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(b.N*perBlock)/b.Elapsed().Seconds(), "tx/s")
		})
	}
}
