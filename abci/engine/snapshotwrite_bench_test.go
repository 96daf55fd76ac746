package engine

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

var snapshotKeys = flag.String("snapshot.keys", "200000", "BenchmarkSnapshotFile: comma-separated numbers of user keys")

// BenchmarkSnapshotFile writes the snapshot file of a Pebble state of
// KEYS user keys (64-byte values, loaded as BenchmarkScale loads them,
// then one block that makes its height a snapshot height), the old way
// (ExportSnapshot, Encode, one write of the bytes) and streamed
// (WriteSnapshot through its buffer), and reports the file's size, the
// bytes allocated and the peak of the Go heap's objects above what they
// were before (sampled every millisecond):
//
//	go test -tags pebbledb ./abci/engine -run '^$' -bench BenchmarkSnapshotFile -benchtime 3x -snapshot.keys 200000,1000000,5000000
func BenchmarkSnapshotFile(b *testing.B) {
	for _, f := range strings.Split(*snapshotKeys, ",") {
		keys, err := strconv.Atoi(f)
		if err != nil {
			b.Fatalf("-snapshot.keys %q: %v", f, err)
		}
		store := snapshotBenchStore(b, keys)
		for _, path := range []struct {
			name  string
			write func(*os.File) error
		}{
			{"encode", func(f *os.File) error {
				s, err := ExportSnapshot(store, 0)
				if err == nil {
					_, err = f.Write(s.Encode())
				}
				return err
			}},
			{"stream", func(f *os.File) error {
				_, err := WriteSnapshot(store, 0, f, nil)
				return err
			}},
		} {
			b.Run(fmt.Sprintf("keys=%d/%s", keys, path.name), func(b *testing.B) { benchSnapshotFile(b, path.write) })
		}
		if err := store.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func benchSnapshotFile(b *testing.B, write func(*os.File) error) {
	name := filepath.Join(b.TempDir(), "snap")
	var peak, alloc, size float64
	for range b.N {
		b.StopTimer()
		f, err := os.Create(name)
		if err != nil {
			b.Fatal(err)
		}
		p, a, err := measureHeap(b, func() error { return write(f) })
		peak, alloc = max(peak, p), max(alloc, a)
		if fi, serr := f.Stat(); serr == nil {
			size = float64(fi.Size())
		}
		if cerr := f.Close(); err != nil || cerr != nil {
			b.Fatal(err, cerr)
		}
	}
	b.ReportMetric(peak/(1<<20), "peak-heap-MiB")
	b.ReportMetric(alloc/(1<<20), "alloc-MiB")
	b.ReportMetric(size/(1<<20), "file-MiB")
}

// measureHeap times run (the timer is stopped when it is called) and
// returns the peak of the Go heap's objects above where they were before
// (sampleHeapPeak) and the bytes allocated, after a collection.
func measureHeap(b *testing.B, run func() error) (peak, alloc float64, err error) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	allocated := ms.TotalAlloc
	stop := sampleHeapPeak()
	b.StartTimer()
	err = run()
	b.StopTimer()
	p := stop()
	runtime.ReadMemStats(&ms)
	return float64(p), float64(ms.TotalAlloc - allocated), err
}

// sampleHeapPeak samples the bytes of the Go heap's objects every
// millisecond until the returned func is called, which returns the peak
// above the first sample.
func sampleHeapPeak() func() uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	base := read()
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			peak = max(peak, read())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		peak = max(peak, read())
		return peak - min(peak, base)
	}
}

// snapshotBenchStore is a Pebble store with keys user keys whose last
// height is a snapshot height.
func snapshotBenchStore(b *testing.B, keys int) *storage.PebbleStore {
	store := openScaleStore(b, b.TempDir())
	w := newWorkload(11)
	w.params = types.Params{SnapshotInterval: 1}
	g, vals := w.genesis()
	state, err := json.Marshal(g)
	if err != nil {
		b.Fatal(err)
	}
	openEngine(b, store, PlainVerifier{}, state, vals...)
	loadState(b, store, keys, 1)
	e, err := NewEngine(store, PlainVerifier{})
	if err != nil {
		b.Fatal(err)
	}
	res := runBlock(b, e, typestest.GovTx(b, e.Height(), []types.Op{typestest.Put("d0/k", "v")}, "signer0"))
	if res.Txs[0].Code != types.CodeOK || e.Reader().LastSnapshotHeight() != e.Height() {
		b.Fatalf("height %d (tx %s) is no snapshot height (last %d)", e.Height(), res.Txs[0].Code.Name(), e.Reader().LastSnapshotHeight())
	}
	return store
}
