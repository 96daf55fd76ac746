package storage

import (
	"errors"
	"math/rand/v2"
	"testing"
)

func TestDiskUsageCountsOnlyThePrefix(t *testing.T) {
	s := openPebble(t, t.TempDir())
	rng := rand.New(rand.NewPCG(1, 2))
	for h := uint64(1); h <= 10; h++ {
		var ws []Entry
		for i := range 300 {
			value := make([]byte, 200) // random: pebble cannot compress it
			for j := range value {
				value[j] = byte(rng.Uint32())
			}
			ws = append(ws, Entry{Key: []byte{'a', byte(i), byte(i >> 8)}, Value: value, Version: Version{h, uint32(i)}})
		}
		ws = append(ws, Entry{Key: []byte("b"), Value: []byte("x"), Version: Version{h, 300}})
		commit(t, s, h, ws...)
	}
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	a, err := s.DiskUsage([]byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	all, err := s.DiskUsage(nil)
	if err != nil {
		t.Fatal(err)
	}
	none, err := s.DiskUsage([]byte("z"))
	if err != nil {
		t.Fatal(err)
	}
	// 3,000 incompressible versions of 200 bytes under "a"; nothing under
	// "z" (an estimate by sstable block: at most one block's worth).
	if a < 600_000 || a > all || none > a/100 {
		t.Fatalf("DiskUsage: a=%d all=%d z=%d; want a >= 600000, a <= all, z <= a/100", a, all, none)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DiskUsage(nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("DiskUsage on a closed store: %v, want ErrClosed", err)
	}
}
