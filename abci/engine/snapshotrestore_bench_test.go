package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkSnapshotRestore restores the snapshot file of a Pebble state of
// KEYS user keys (the state of BenchmarkSnapshotFile, -snapshot.keys) into
// an empty Pebble store, the old way (read the file whole, DecodeSnapshot,
// VerifySnapshot, Restore: every entry in one batch) and streamed
// (RestoreFrom the file: a verifying pass, then a restoring pass in
// batches of restoreBatchBytes), and reports the bytes allocated and the
// peak of the Go heap's objects above what they were before (sampled
// every millisecond):
//
//	go test -tags pebbledb ./abci/engine -run '^$' -bench BenchmarkSnapshotRestore -benchtime 1x -snapshot.keys 1000000,5000000
func BenchmarkSnapshotRestore(b *testing.B) {
	for _, f := range strings.Split(*snapshotKeys, ",") {
		keys, err := strconv.Atoi(f)
		if err != nil {
			b.Fatalf("-snapshot.keys %q: %v", f, err)
		}
		file, trusted := snapshotBenchFile(b, keys)
		for _, path := range []struct {
			name    string
			restore func(e *Engine) error
		}{
			{"decode", func(e *Engine) error {
				enc, err := os.ReadFile(file)
				if err != nil {
					return err
				}
				s, err := DecodeSnapshot(enc)
				if err == nil {
					err = VerifySnapshot(s, trusted)
				}
				if err == nil {
					err = e.Restore(s)
				}
				return err
			}},
			{"stream", func(e *Engine) error {
				f, err := os.Open(file)
				if err != nil {
					return err
				}
				defer f.Close()
				fi, err := f.Stat()
				if err == nil {
					_, err = e.RestoreFrom(SnapshotAt(f, 0, fi.Size()), trusted)
				}
				return err
			}},
		} {
			b.Run(fmt.Sprintf("keys=%d/%s", keys, path.name), func(b *testing.B) { benchSnapshotRestore(b, path.restore) })
		}
	}
}

// snapshotBenchFile writes the snapshot file of a state of keys user keys
// and returns its path and app hash.
func snapshotBenchFile(b *testing.B, keys int) (string, []byte) {
	store := snapshotBenchStore(b, keys)
	file := filepath.Join(b.TempDir(), "snap")
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	info, err := WriteSnapshot(store, 0, f, nil)
	if err = errors.Join(err, f.Close(), store.Close()); err != nil {
		b.Fatal(err)
	}
	return file, info.AppHash
}

func benchSnapshotRestore(b *testing.B, restore func(*Engine) error) {
	var peak, alloc float64
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		store := openScaleStore(b, dir)
		e, err := NewEngine(store, PlainVerifier{})
		if err != nil {
			b.Fatal(err)
		}
		p, a, err := measureHeap(b, func() error { return restore(e) })
		peak, alloc = max(peak, p), max(alloc, a)
		if err != nil {
			b.Fatal(err)
		}
		if h, _, err := store.Last(); err != nil || h == 0 {
			b.Fatalf("restored store at %d (%v)", h, err)
		}
		if err := store.Close(); err != nil {
			b.Fatal(err)
		}
		_ = os.RemoveAll(dir)
	}
	b.ReportMetric(peak/(1<<20), "peak-heap-MiB")
	b.ReportMetric(alloc/(1<<20), "alloc-MiB")
}
