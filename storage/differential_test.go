package storage

import (
	"fmt"
	"math/rand"
	"reflect"
	"testing"
)

// TestDifferential applies the same seeded random operations to a
// MemoryStore and a PebbleStore and requires identical answers, errors
// included. A failure names the seed and step to replay.
func TestDifferential(t *testing.T) {
	for seed := int64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			runDifferential(t, seed, 400)
		})
	}
}

// diffKeys is small so that keys collect many versions, and full of
// prefix and escaping edge cases.
var diffKeys = []string{"a", "a\x00", "ab", "a\x00b", "a\x00\x00", "b", "b\xff", "\xff", "\x00", "k/1", "k/2", "k/10"}

var diffPrefixes = []string{"", "a", "a\x00", "b", "\xff", "k/", "k/1", "z"}

func runDifferential(t *testing.T, seed int64, steps int) {
	rng := rand.New(rand.NewSource(seed))
	mem := NewInMemoryStore()
	peb := openPebble(t, t.TempDir())
	stores := []Store{mem, peb}
	var (
		last      uint64
		committed bool
		versions  []Version // every version written, for History cursors
	)
	// same runs op against both stores and compares what they return.
	same := func(step int, what string, op func(s Store) any) any {
		t.Helper()
		a, b := op(mem), op(peb)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("seed %d step %d %s:\n memory: %#v\n pebble: %#v", seed, step, what, a, b)
		}
		return a
	}
	randKey := func() []byte { return []byte(diffKeys[rng.Intn(len(diffKeys))]) }
	randHeight := func() uint64 {
		if rng.Intn(4) == 0 {
			return 0
		}
		return uint64(rng.Int63n(int64(last) + 3))
	}

	for step := range steps {
		switch r := rng.Intn(100); {
		case r < 30: // a valid commit
			h := last + 1 + uint64(rng.Intn(2))
			if !committed && rng.Intn(2) == 0 {
				h = 0
			}
			var ws []Entry
			for i := range rng.Intn(8) {
				idx := uint32(i)
				if rng.Intn(5) == 0 && i > 0 {
					idx = uint32(rng.Intn(i)) // rewrite an earlier version
				}
				w := Entry{Key: randKey(), Version: Version{h, idx}}
				if rng.Intn(4) == 0 {
					w.Deleted = true
				} else {
					w.Value = []byte(fmt.Sprintf("v%d.%d", h, i))
				}
				ws = append(ws, w)
				versions = append(versions, w.Version)
			}
			b := Batch{Height: h, AppHash: []byte(fmt.Sprint("hash", h)), Writes: ws}
			if err := same(step, "Commit", func(s Store) any { return errString(s.Commit(b)) }); err != "" {
				t.Fatalf("seed %d step %d: valid commit failed: %s", seed, step, err)
			}
			last, committed = h, true
		case r < 35: // an invalid commit
			b := Batch{Height: last, Writes: []Entry{{Key: randKey(), Version: Version{last + 1, 0}}}}
			if rng.Intn(2) == 0 {
				b = Batch{Height: last + 1, Writes: []Entry{{Key: nil, Version: Version{last + 1, 0}}}}
			}
			same(step, "bad Commit", func(s Store) any { return errString(s.Commit(b)) })
		case r < 60:
			key, h := randKey(), randHeight()
			same(step, fmt.Sprintf("Get(%q, %d)", key, h), func(s Store) any {
				e, ok, err := s.Get(key, h)
				return []any{e, ok, errString(err)}
			})
		case r < 80:
			key, limit := randKey(), rng.Intn(5)
			var before Version
			if len(versions) > 0 && rng.Intn(3) > 0 {
				before = versions[rng.Intn(len(versions))]
				before.Index += uint32(rng.Intn(2))
			}
			same(step, fmt.Sprintf("History(%q, %v, %d)", key, before, limit), func(s Store) any {
				es, err := s.History(key, before, limit)
				return []any{es, errString(err)}
			})
		case r < 95:
			prefix, h, stopAfter := []byte(diffPrefixes[rng.Intn(len(diffPrefixes))]), randHeight(), rng.Intn(6)
			same(step, fmt.Sprintf("Scan(%q, %d)", prefix, h), func(s Store) any {
				var es []Entry
				err := s.Scan(prefix, h, func(e Entry) bool {
					es = append(es, e)
					return stopAfter == 0 || len(es) < stopAfter
				})
				return []any{es, errString(err)}
			})
		case r < 98:
			keepFrom := uint64(rng.Int63n(int64(last) + 2))
			same(step, fmt.Sprintf("Prune(%d)", keepFrom), func(s Store) any { return errString(s.Prune(keepFrom)) })
		default:
			same(step, "Last", func(s Store) any {
				h, hash, err := s.Last()
				return []any{h, hash, errString(err)}
			})
		}
	}
	// Finally every key's full history and a full scan must agree.
	for _, k := range diffKeys {
		for _, limit := range []int{1, 3} {
			same(steps, fmt.Sprintf("history of %q", k), func(s Store) any { return historyAll(t, s, k, limit) })
		}
	}
	for _, s := range stores {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
