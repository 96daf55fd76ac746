package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// BenchmarkGtxSaga measures the engine coordinating two-branch sagas on a
// real Pebble store: per iteration three blocks of 1,000 txs (every gtx
// begun, every first action answered, every second action answered:
// each gtx committed), FinalizeBlock + Commit, signatures verified cold.
// Reports committed gtx/s and the engine's share of a gtx (3 txs, 2
// participant signatures).
//
//	go test ./abci/engine -run '^$' -bench GtxSaga -benchtime 5x
func BenchmarkGtxSaga(b *testing.B) {
	const perBlock = 1000
	store, err := storage.NewPebbleStore(b.TempDir(), storage.DefaultPebbleOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	e := newTestEngine(b, store, PlainVerifier{})
	now := time.Unix(1_800_000_000, 0)
	run := func(txs [][]byte) {
		now = now.Add(time.Second)
		res, err := e.FinalizeBlock(Block{Height: e.Height() + 1, Time: now, Txs: txs})
		if err != nil {
			b.Fatal(err)
		}
		if err := e.Commit(); err != nil {
			b.Fatal(err)
		}
		for i, o := range res.Txs {
			if o.Code != types.CodeOK {
				b.Fatalf("tx %d: %s %s", i, o.Code.Name(), o.Log)
			}
		}
	}
	nonce := uint64(0)
	tx := func(signer string, op types.Op) []byte {
		nonce++
		body := types.TxBody{ChainId: typestest.Chain, Nonce: nonce, ValidUntilHeight: e.Height() + 5, Ops: []types.Op{op}}
		return typestest.SignTx(b, &body, typestest.Key(signer))
	}
	run([][]byte{tx("admin", typestest.RegisterParticipant("bank1", "org1", "p1")), tx("admin", typestest.RegisterParticipant("bank2", "org2", "p2"))})
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		b.StopTimer()
		sagas := make([]*types.BeginGtx, perBlock)
		begin := make([][]byte, perBlock)
		for i := range sagas {
			sagas[i] = typestest.Saga(fmt.Sprintf("g%d-%d", n, i), now.Add(time.Hour).UnixMilli(), "bank1", "bank2")
			begin[i] = tx(fmt.Sprint("teller", i%16), typestest.Begin(sagas[i]))
		}
		b.StartTimer()
		run(begin)
		for branch, key := range []string{"p1", "p2"} {
			b.StopTimer()
			answers := make([][]byte, perBlock)
			for i, s := range sagas {
				answers[i] = tx(fmt.Sprint("exec", i%4), typestest.Answer(b, typestest.Chain, s, uint32(branch), types.GtxOp_GTX_OP_ACTION, 1, types.GtxStatus_GTX_STATUS_SUCCEEDED, key))
			}
			b.StartTimer()
			run(answers)
		}
	}
	b.ReportMetric(float64(b.N*perBlock)/b.Elapsed().Seconds(), "gtx/s")
}
