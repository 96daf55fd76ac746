package engine

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

var (
	scaleKeys = flag.String("scale.keys", "10000", "BenchmarkScale: comma-separated cases, each KEYS or KEYSxVERSIONS (every key written VERSIONS times)")
	scaleHome = flag.String("scale.store", "", "TestScalePreload: a stopped node's app store (HOME/data/app) to pre-load")
	scaleN    = flag.Int("scale.preload", 1000, "TestScalePreload: user keys to add")
	scalePre  = flag.String("scale.prefix", "acct/", "TestScalePreload: the added keys are PREFIX1, PREFIX2, ...")
)

// BenchmarkScale measures how the engine's cost grows with the state: for
// each case in -scale.keys it loads KEYS user keys, VERSIONS times each
// (loadState: storage batches of 100,000 writes, one height each, in the
// engine's own key layout, off the clock), then times FinalizeBlock +
// Commit of 10,000-tx blocks of signed puts that overwrite random existing
// keys, with CheckTx warming the caches off the clock as a validator's
// mempool does. Besides tx/s it reports the CPU time per tx of those
// blocks (the whole process's, background compactions included), the load time, the store's size on
// disk, the Go heap in use after a GC, the process's resident memory, and
// the p50/p99 of reads of random keys at random loaded heights.
//
//	go test ./abci/engine -run '^$' -bench Scale -benchtime 3x -scale.keys 10000,1000000,100000x100
//	make bench-scale        # the tables and plots in docs/PERFORMANCE.md
func BenchmarkScale(b *testing.B) {
	for _, f := range strings.Split(*scaleKeys, ",") {
		ks, vs, _ := strings.Cut(strings.TrimSpace(f), "x")
		n, err := strconv.Atoi(ks)
		v := 1
		if err == nil && vs != "" {
			v, err = strconv.Atoi(vs)
		}
		if err != nil || n < 1 || v < 1 {
			b.Fatalf("-scale.keys: %q is not KEYS or KEYSxVERSIONS", f)
		}
		b.Run(fmt.Sprintf("keys=%d,versions=%d", n, v), func(b *testing.B) { benchScale(b, n, v) })
	}
}

const (
	scaleBlock = 10_000
	// scaleLoadBatch is how many writes one loading height carries.
	scaleLoadBatch = 100_000
)

type scaleChain struct {
	e       *Engine
	signers []security.Signer
	nonce   uint64
	value   string
}

// scaleKey is the i-th user key of a loaded state.
func scaleKey(i int) string { return "acct/" + strconv.Itoa(i) }

// scaleValues backs the loaded values: 64-byte windows of 1 MiB of seeded
// random bytes, so that the store cannot compress them away.
var scaleValues = func() []byte {
	b := make([]byte, 1<<20)
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}()

// scaleValue is the loaded value of the i-th write.
func scaleValue(i int) []byte {
	off := (i * 4099) % (len(scaleValues) - 64)
	return scaleValues[off : off+64 : off+64]
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
					Ops: []types.Op{typestest.Put(scaleKey(keys[i]), c.value)}}
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

// loadState writes keys user keys (scaleKey(0..keys-1), scaleValue),
// versions times each, straight to the store: batches of scaleLoadBatch
// writes, each committed as the next height with the store's last app
// hash. The layout on disk is the engine's (userKey, one version per
// write); only the state hash chain does not cover these writes. It
// returns the last loaded height. Reopen the engine afterwards.
func loadState(tb testing.TB, store storage.Store, keys, versions int) uint64 {
	h, hash, err := store.Last()
	if err != nil {
		tb.Fatal(err)
	}
	writes := make([]storage.Entry, 0, scaleLoadBatch)
	flush := func() {
		h++
		for i := range writes {
			writes[i].Version = storage.Version{Height: h, Index: uint32(i)}
		}
		if err := store.Commit(storage.Batch{Height: h, AppHash: hash, Writes: writes}); err != nil {
			tb.Fatal(err)
		}
		writes = writes[:0]
	}
	for v := range versions {
		for k := range keys {
			writes = append(writes, storage.Entry{Key: userKey(scaleKey(k)), Value: scaleValue(v*keys + k)})
			if len(writes) == scaleLoadBatch {
				flush()
			}
		}
		if len(writes) > 0 {
			flush()
		}
	}
	return h
}

func benchScale(b *testing.B, keys, versions int) {
	dir := b.TempDir()
	store, err := storage.NewPebbleStore(dir, storage.DefaultPebbleOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	newTestEngine(b, store, NewCachedVerifier(4*scaleBlock))
	start := time.Now()
	loaded := loadState(b, store, keys, versions)
	loadTime := time.Since(start)
	e, err := NewEngine(store, NewCachedVerifier(4*scaleBlock))
	if err != nil {
		b.Fatal(err)
	}
	c := &scaleChain{e: e, value: string(make([]byte, 64))}
	for i := range 16 {
		c.signers = append(c.signers, typestest.Key(fmt.Sprint("scale", i)))
	}
	rng := rand.New(rand.NewPCG(1, uint64(keys)))
	var cpu time.Duration
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
		cpu0 := cpuTime(b)
		c.run(b, txs)
		cpu += cpuTime(b) - cpu0
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*scaleBlock)/b.Elapsed().Seconds(), "tx/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*scaleBlock), "cpu-us/tx")
	b.ReportMetric(loadTime.Seconds(), "load-s")
	b.ReportMetric(float64(dirSize(b, dir))/(1<<20), "disk-MiB")
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
	b.ReportMetric(rssMiB(b), "rss-MiB")
	p50, p99 := oldReads(b, c.e, rng, keys, loaded)
	b.ReportMetric(p50, "old-read-p50-us")
	b.ReportMetric(p99, "old-read-p99-us")
}

// cpuTime is the CPU time (user + system) this process has used: on a
// machine shared with other jobs it shows the work that the wall clock
// hides under waiting for a core.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rssMiB is this process's resident memory (VmRSS).
func rssMiB(tb testing.TB) float64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				tb.Fatal(err)
			}
			return kb / 1024
		}
	}
	tb.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// oldReads times 2,000 reads of random keys at random heights up to loaded.
func oldReads(b *testing.B, e *Engine, rng *rand.Rand, keys int, loaded uint64) (p50, p99 float64) {
	r := e.Reader()
	lat := make([]time.Duration, 0, 2000)
	for range 2000 {
		k := scaleKey(rng.IntN(keys))
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

func dirSize(tb testing.TB, dir string) int64 {
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
		tb.Fatal(err)
	}
	return total
}

// TestScalePreload checks the pre-loading of a node's state that
// `make bench-scale` uses (preloadStore), on a small chain: the engine
// reopens at the same height and app hash, reads the added keys and the
// chain's own, and goes on committing. With -scale.store it pre-loads that
// store instead (a stopped node's HOME/data/app); -scale.preload is the
// number of keys (1,000 by default):
//
//	go test ./abci/engine -run '^TestScalePreload$' -scale.store HOME/data/app -scale.preload 10000000
func TestScalePreload(t *testing.T) {
	if *scaleHome != "" {
		preloadStore(t, *scaleHome, *scaleN)
		store := openScaleStore(t, *scaleHome)
		defer store.Close()
		if ent, ok, err := store.Get(userKey(preloadKey(*scaleN-1)), 0); err != nil || !ok || ent.Deleted {
			t.Fatalf("key %s after pre-loading: %v %v", preloadKey(*scaleN-1), ok, err)
		}
		return
	}
	dir := t.TempDir()
	store := openScaleStore(t, dir)
	e := newTestEngine(t, store, NewCachedVerifier(16))
	alice := typestest.Key("alice")
	runBlock(t, e, signPut(t, e, alice, "before", "1"))
	h, hash := e.Height(), e.AppHash()
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	n := *scaleN
	preloadStore(t, dir, n)
	store = openScaleStore(t, dir)
	defer store.Close()
	e, err := NewEngine(store, NewCachedVerifier(16))
	if err != nil {
		t.Fatal(err)
	}
	if e.Height() != h || !slices.Equal(e.AppHash(), hash) {
		t.Fatalf("after pre-loading: height %d app hash %x, want %d %x", e.Height(), e.AppHash(), h, hash)
	}
	for _, k := range []string{"before", preloadKey(0), preloadKey(n - 1)} {
		if _, err := e.Reader().Get(k, 0); err != nil {
			t.Fatalf("Get %s after pre-loading: %v", k, err)
		}
	}
	res := runBlock(t, e, signPut(t, e, alice, preloadKey(0), "2"))
	if res.Txs[0].Code != types.CodeOK {
		t.Fatalf("put after pre-loading: %s %s", res.Txs[0].Code, res.Txs[0].Log)
	}
	if kv, err := e.Reader().Get(preloadKey(0), 0); err != nil || string(kv.Value) != "2" {
		t.Fatalf("Get %s after a put: %+v %v", preloadKey(0), kv, err)
	}
}

func signPut(t *testing.T, e *Engine, s security.Signer, k, v string) []byte {
	body := types.TxBody{ChainId: typestest.Chain, Nonce: e.Height() + 1, ValidUntilHeight: e.Height() + 5,
		Ops: []types.Op{typestest.Put(k, v)}}
	return typestest.SignTx(t, &body, s)
}

func openScaleStore(tb testing.TB, dir string) *storage.PebbleStore {
	store, err := storage.NewPebbleStore(dir, storage.DefaultPebbleOptions())
	if err != nil {
		tb.Fatal(err)
	}
	return store
}

// preloadKey is the i-th pre-loaded key: -scale.prefix and i+1 (so that
// `dstt bench --prefix P` puts, to P put/1, P put/2, ..., overwrite the keys
// pre-loaded with -scale.prefix "P put/").
func preloadKey(i int) string { return *scalePre + strconv.Itoa(i+1) }

// preloadStore adds keys user keys (preloadKey(0..keys-1), scaleValue)
// to the stopped store in dir the way state sync rebuilds a node: the
// store's live entries at its last height plus the new keys go into a new
// store with storage's Restore (one batch, at the same height and app
// hash, so CometBFT's handshake finds the app where it left it), which
// then replaces dir. History below that height is gone (the floor is the
// last height), as on a node restored from a snapshot.
func preloadStore(tb testing.TB, dir string, keys int) {
	old := openScaleStore(tb, dir)
	h, hash, err := old.Last()
	if err != nil {
		tb.Fatal(err)
	}
	var writes []storage.Entry
	err = old.Scan(nil, 0, func(ent storage.Entry) bool {
		ent.Key, ent.Value = slices.Clone(ent.Key), slices.Clone(ent.Value)
		writes = append(writes, ent)
		return true
	})
	if err != nil {
		tb.Fatal(err)
	}
	if err := old.Close(); err != nil {
		tb.Fatal(err)
	}
	writes = slices.Grow(writes, keys)
	for i := range keys {
		writes = append(writes, storage.Entry{Key: userKey(preloadKey(i)), Value: scaleValue(i),
			Version: storage.Version{Height: h, Index: uint32(i + 1)}})
	}
	next := dir + ".preload"
	if err := os.RemoveAll(next); err != nil {
		tb.Fatal(err)
	}
	store := openScaleStore(tb, next)
	if err := store.Restore(storage.Batch{Height: h, AppHash: hash, Writes: writes}); err != nil {
		tb.Fatal(err)
	}
	if err := store.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(dir, dir+".old"); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(next, dir); err != nil {
		tb.Fatal(err)
	}
	if err := os.RemoveAll(dir + ".old"); err != nil {
		tb.Fatal(err)
	}
}
