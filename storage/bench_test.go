package storage

import (
	"fmt"
	"math/rand"
	"testing"
)

const (
	benchWritesPerBlock = 20_000
	benchKeySpace       = 100_000
	benchValueSize      = 64
)

// benchBatch returns a block of benchWritesPerBlock writes over a key space
// of benchKeySpace accounts, at height 0 (callers set the height).
func benchBatch(rng *rand.Rand) Batch {
	value := make([]byte, benchValueSize)
	ws := make([]Entry, benchWritesPerBlock)
	for i := range ws {
		ws[i] = Entry{
			Key:     fmt.Appendf(nil, "acct/%08d", rng.Intn(benchKeySpace)),
			Value:   value,
			Version: Version{Index: uint32(i)},
		}
	}
	return Batch{AppHash: make([]byte, 32), Writes: ws}
}

func setHeight(b *Batch, h uint64) {
	b.Height = h
	for i := range b.Writes {
		b.Writes[i].Version.Height = h
	}
}

func openBenchPebble(b *testing.B) *PebbleStore {
	s, err := NewPebbleStore(b.TempDir(), DefaultPebbleOptions())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// BenchmarkPebbleCommit commits one 20k-write block per op, synced.
func BenchmarkPebbleCommit(b *testing.B) {
	s := openBenchPebble(b)
	batch := benchBatch(rand.New(rand.NewSource(1)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		setHeight(&batch, uint64(i+1))
		if err := s.Commit(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchWritesPerBlock)/b.Elapsed().Seconds(), "writes/s")
}

// BenchmarkPebbleGet reads random keys, latest and at an older height, from
// a store holding 10 blocks of 20k writes.
func BenchmarkPebbleGet(b *testing.B) {
	s := openBenchPebble(b)
	rng := rand.New(rand.NewSource(1))
	const blocks = 10
	for h := uint64(1); h <= blocks; h++ {
		batch := benchBatch(rng)
		setHeight(&batch, h)
		if err := s.Commit(batch); err != nil {
			b.Fatal(err)
		}
	}
	keys := make([][]byte, 1024)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "acct/%08d", rng.Intn(benchKeySpace))
	}
	for _, tc := range []struct {
		name   string
		height uint64
	}{{"latest", 0}, {"at-height", blocks / 2}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := range b.N {
				if _, _, err := s.Get(keys[i%len(keys)], tc.height); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
