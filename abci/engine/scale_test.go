package engine

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

var scaleKeys = flag.String("scale.keys", "10000", "BenchmarkScale: comma-separated state sizes (keys written before measuring)")

// BenchmarkScale measures how the engine's cost grows with the state: for
// each size in -scale.keys it writes that many keys (10,000-tx blocks of
// signed puts, off the clock), then times FinalizeBlock + Commit of
// 10,000-tx blocks that overwrite random existing keys (so versions grow),
// with CheckTx warming the caches off the clock as a validator's mempool
// does. Besides tx/s it reports the store's size on disk, the Go heap in
// use after a GC, and the p50/p99 of reads at random old heights.
//
//	go test ./abci/engine -run '^$' -bench Scale -benchtime 5x -scale.keys 10000,1000000
//	bash bench/scale.sh        # the table in docs/PERFORMANCE.md
func BenchmarkScale(b *testing.B) {
	for _, f := range strings.Split(*scaleKeys, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			b.Fatalf("-scale.keys: %q is not a size", f)
		}
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) { benchScale(b, n) })
	}
}

const scaleBlock = 10_000

type scaleChain struct {
	e       *Engine
	signers []security.Signer
	nonce   uint64
	value   string
}

// blockOf signs one block of puts to keys (in parallel: signing is the
// slow part of building a block).
func (c *scaleChain) blockOf(b *testing.B, keys []int) [][]byte {
	h := c.e.Height() + 1
	txs := make([][]byte, len(keys))
	base := c.nonce
	c.nonce += uint64(len(keys))
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(keys); i += workers {
				body := types.TxBody{ChainId: typestest.Chain, Nonce: base + uint64(i) + 1, ValidUntilHeight: h + 5,
					Ops: []types.Op{typestest.Put(fmt.Sprintf("acct/%d", keys[i]), c.value)}}
				txs[i] = typestest.SignTx(b, &body, c.signers[i%len(c.signers)])
			}
		}()
	}
	wg.Wait()
	return txs
}

func (c *scaleChain) run(b *testing.B, txs [][]byte) {
	res, err := c.e.FinalizeBlock(Block{Height: c.e.Height() + 1, Time: time.Unix(int64(c.e.Height()), 0), Txs: txs})
	if err != nil {
		b.Fatal(err)
	}
	if err := c.e.Commit(); err != nil {
		b.Fatal(err)
	}
	for i, o := range res.Txs {
		if o.Code != types.CodeOK {
			b.Fatalf("tx %d: %s %s", i, o.Code, o.Log)
		}
	}
}

func benchScale(b *testing.B, keys int) {
	dir := b.TempDir()
	store, err := storage.NewPebbleStore(dir, storage.DefaultPebbleOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	c := &scaleChain{e: newTestEngine(b, store, NewCachedVerifier(4*scaleBlock)), value: string(make([]byte, 64))}
	for i := range 16 {
		c.signers = append(c.signers, typestest.Key(fmt.Sprint("scale", i)))
	}
	for start := 0; start < keys; start += scaleBlock {
		ks := make([]int, min(scaleBlock, keys-start))
		for i := range ks {
			ks[i] = start + i
		}
		c.run(b, c.blockOf(b, ks))
	}
	loaded := c.e.Height()
	rng := rand.New(rand.NewPCG(1, uint64(keys)))
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		b.StopTimer()
		ks := make([]int, scaleBlock)
		for i := range ks {
			ks[i] = rng.IntN(keys)
		}
		txs := c.blockOf(b, ks)
		for _, tx := range txs {
			c.e.CheckTx(tx)
		}
		b.StartTimer()
		c.run(b, txs)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*scaleBlock)/b.Elapsed().Seconds(), "tx/s")
	b.ReportMetric(float64(dirSize(b, dir))/(1<<20), "disk-MiB")
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
	p50, p99 := oldReads(b, c.e, rng, keys, loaded)
	b.ReportMetric(p50, "old-read-p50-us")
	b.ReportMetric(p99, "old-read-p99-us")
}

// oldReads times 2,000 reads of random keys at random heights up to loaded.
func oldReads(b *testing.B, e *Engine, rng *rand.Rand, keys int, loaded uint64) (p50, p99 float64) {
	r := e.Reader()
	lat := make([]time.Duration, 0, 2000)
	for range 2000 {
		k := fmt.Sprintf("acct/%d", rng.IntN(keys))
		h := 1 + rng.Uint64N(max(loaded, 1))
		start := time.Now()
		if _, err := r.Get(k, h); err != nil && !errors.Is(err, ErrNotFound) {
			b.Fatalf("Get %s at %d: %v", k, h, err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }
	return us(lat[len(lat)/2]), us(lat[len(lat)*99/100])
}

func dirSize(b *testing.B, dir string) int64 {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			total += info.Size()
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return total
}
