package engine

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// BenchmarkFinalizeCommit measures the engine on a real Pebble store:
// FinalizeBlock + Commit of 10,000-tx blocks, every tx a signed put to its
// own key, signatures verified cold (no CheckTx cache), as a validator that
// did not see the txs in its mempool would. Reports tx/s, and the process
// CPU time (every thread: verification workers, Pebble) per block, which a
// shared machine disturbs far less.
//
//	go test ./abci/engine -run '^$' -bench FinalizeCommit -benchtime 20x
func BenchmarkFinalizeCommit(b *testing.B) {
	const perBlock = 10_000
	for _, bc := range []struct {
		name string
		v    func() Verifier
		rbac bool
	}{
		{"cold", func() Verifier { return PlainVerifier{} }, false},
		{"cold-rbac1000", func() Verifier { return PlainVerifier{} }, true},
		{"cached", func() Verifier { return NewCachedVerifier(2 * perBlock) }, false},
		{"cached-rbac1000", func() Verifier { return NewCachedVerifier(2 * perBlock) }, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			store, err := storage.NewPebbleStore(b.TempDir(), storage.DefaultPebbleOptions())
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			v := bc.v()
			signers := make([]security.Signer, 16)
			for i := range signers {
				signers[i] = typestest.Key(fmt.Sprint("bench", i))
			}
			var e *Engine
			if bc.rbac {
				e = newPolicyBenchEngine(b, store, v, signers)
			} else {
				e = newTestEngine(b, store, v)
			}
			value := make([]byte, 64)
			nonce := uint64(0)
			makeBlock := func(h uint64) [][]byte {
				txs := make([][]byte, perBlock)
				for i := range txs {
					nonce++
					body := types.TxBody{ChainId: typestest.Chain, Nonce: nonce, ValidUntilHeight: h + 5,
						Ops: []types.Op{typestest.Put(fmt.Sprintf("acct/%d/%d", h, i), string(value))}}
					txs[i] = typestest.SignTx(b, &body, signers[i%len(signers)])
				}
				return txs
			}
			var cpu time.Duration // process CPU time in FinalizeBlock + Commit
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
				cpu0 := processCPU()
				res, err := e.FinalizeBlock(Block{Height: h, Txs: txs})
				if err != nil {
					b.Fatal(err)
				}
				if err := e.Commit(); err != nil {
					b.Fatal(err)
				}
				cpu += processCPU() - cpu0
				b.StopTimer()
				for i, o := range res.Txs {
					if o.Code != types.CodeOK {
						b.Fatalf("tx %d: %s %s", i, o.Code, o.Log)
					}
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(b.N*perBlock)/b.Elapsed().Seconds(), "tx/s")
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/block")
		})
	}
}

// newPolicyBenchEngine is a chain with access control on and a 1,000-line
// policy: 980 rules for 49 other roles over 10 domains, plus the rules and
// grants that let the bench signers write acct/*.
func newPolicyBenchEngine(b *testing.B, store storage.Store, v Verifier, signers []security.Signer) *Engine {
	admin := typestest.Key("bench-admin")
	g := DefaultGenesisState()
	g.Admins = []string{types.Address(admin.PubKey())}
	state, _ := json.Marshal(g)
	e, err := NewEngine(store, v)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := e.InitChain(typestest.Chain, state); err != nil {
		b.Fatal(err)
	}
	var ops []types.Op
	for i := range 980 {
		ops = append(ops, types.Op{Sum: &types.Op_Policy{Policy: &types.PolicyRule{
			Subject: fmt.Sprintf("role%d", 1+i%49), Domain: fmt.Sprintf("org%d", i%10),
			Object: fmt.Sprintf("org%d/data%d/*", i%10, i), Action: []string{"read", "write"}[i%2], Deny: i%7 == 0,
		}}})
	}
	ops = append(ops,
		types.Op{Sum: &types.Op_Policy{Policy: &types.PolicyRule{Subject: "writer", Domain: "acct", Object: "acct/*", Action: "write"}}},
		types.Op{Sum: &types.Op_Policy{Policy: &types.PolicyRule{Subject: "writer", Domain: "acct", Object: "acct/frozen/*", Action: "write", Deny: true}}},
		types.Op{Sum: &types.Op_Policy{Policy: &types.PolicyRule{Subject: "anyone", Domain: "public", Object: "public/*", Action: "read"}}},
	)
	for _, s := range signers {
		ops = append(ops, types.Op{Sum: &types.Op_Grant{Grant: &types.Grant{Subject: types.Address(s.PubKey()), Role: "writer", Domain: "acct"}}})
	}
	for i := 0; i < len(ops); i += 500 {
		tx := typestest.SignTx(b, &types.TxBody{ChainId: typestest.Chain, Nonce: uint64(i + 1), ValidUntilHeight: e.Height() + 5, Ops: ops[i:min(i+500, len(ops))]}, admin)
		if res := runBlock(b, e, tx); res.Txs[0].Code != types.CodeOK {
			b.Fatalf("policy setup: %s", res.Txs[0].Log)
		}
	}
	if n := len(e.Reader().Policy().Rules()) + len(e.Reader().Policy().Grants()); n < 1000 {
		b.Fatalf("policy has %d lines, want >= 1000", n)
	}
	return e
}

// BenchmarkRecheck is CheckTx of a tx the node already admitted, as the
// mempool's recheck after every block runs it for each tx still waiting:
// 5,000 signed puts, each admitted once off the clock, then checked again
// in turn. With the CachedVerifier (the node's) the tx cache answers the
// decode and the signatures; "sigcache" is the CachedVerifier without the
// tx cache (decode each time, signatures from the signature cache);
// PlainVerifier decodes and verifies each time.
//
//	go test ./abci/engine -run '^$' -bench Recheck -benchtime 100000x
func BenchmarkRecheck(b *testing.B) {
	for _, bc := range []struct {
		name     string
		v        func() Verifier
		noTxMemo bool
	}{
		{"cached", func() Verifier { return NewCachedVerifier(1 << 16) }, false},
		{"sigcache", func() Verifier { return NewCachedVerifier(1 << 16) }, true},
		{"plain", func() Verifier { return PlainVerifier{} }, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := newTestEngine(b, storage.NewInMemoryStore(), bc.v())
			if bc.noTxMemo {
				e.txs = nil
			}
			txs := make([][]byte, 5000)
			for i := range txs {
				body := types.TxBody{ChainId: typestest.Chain, Nonce: uint64(i + 1), ValidUntilHeight: 50,
					Ops: []types.Op{typestest.Put(fmt.Sprintf("acct/%d", i), string(make([]byte, 64)))}}
				txs[i] = typestest.SignTx(b, &body, typestest.Key(fmt.Sprint("bench", i%16)))
				if o := e.CheckTx(txs[i]); o.Code != types.CodeOK {
					b.Fatal(o.Log)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				if o := e.CheckTx(txs[n%len(txs)]); o.Code != types.CodeOK {
					b.Fatal(o.Log)
				}
			}
		})
	}
}

// BenchmarkLoneTx is the engine's part of a lightly loaded chain: a block
// holding one signed put (checked by CheckTx first, as the node does),
// then the empty block CometBFT makes next because the app hash changed,
// each FinalizeBlock + a synced Pebble Commit. Reports each step's mean.
//
//	go test ./abci/engine -run '^$' -bench LoneTx -benchtime 300x
func BenchmarkLoneTx(b *testing.B) {
	store, err := storage.NewPebbleStore(b.TempDir(), storage.DefaultPebbleOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	e := newTestEngine(b, store, NewCachedVerifier(1000))
	signer := typestest.Key("lone")
	var steps [4]time.Duration // tx block finalize, commit; empty block finalize, commit
	step := func(i int, f func() error) {
		t := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		steps[i] += time.Since(t)
	}
	for n := 0; n < b.N; n++ {
		h := e.Height() + 1
		body := types.TxBody{ChainId: typestest.Chain, Nonce: uint64(n + 1), ValidUntilHeight: h + 5,
			Ops: []types.Op{typestest.Put(fmt.Sprintf("acct/%d", n), "value")}}
		tx := typestest.SignTx(b, &body, signer)
		if out := e.CheckTx(tx); out.Code != types.CodeOK {
			b.Fatal(out.Log)
		}
		for i, blk := range []Block{{Height: h, Txs: [][]byte{tx}}, {Height: h + 1}} {
			blk.Time = time.Unix(int64(blk.Height), 0)
			step(2*i, func() error { _, err := e.FinalizeBlock(blk); return err })
			step(2*i+1, e.Commit)
		}
	}
	for i, name := range []string{"finalize-us", "commit-us", "empty-finalize-us", "empty-commit-us"} {
		b.ReportMetric(float64(steps[i].Microseconds())/float64(b.N), name)
	}
}
