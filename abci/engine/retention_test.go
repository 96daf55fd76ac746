package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
)

// TestRetentionKeepsLatestReads runs one workload on a chain that keeps
// every version and on one that keeps the last 6 heights (on Pebble and in
// memory): at every height the latest value of every key is the same on
// all three, reads at retained heights give what the full chain gives, and
// reads below the floor give ErrPruned.
func TestRetentionKeepsLatestReads(t *testing.T) {
	full := newRetentionChain(t, types.Params{}, storage.NewInMemoryStore())
	ps, err := storage.NewPebbleStore(t.TempDir(), storage.DefaultPebbleOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ps.Close() }()
	pruned := []*Engine{
		newRetentionChain(t, types.Params{RetainHeights: 6}, storage.NewInMemoryStore()),
		newRetentionChain(t, types.Params{RetainHeights: 6}, ps),
	}
	w := newWorkload(11)
	w.ref = full
	versions := committedVersions(full)
	for h := uint64(1); h <= 60; h++ {
		b := w.block(t, h, versions)
		for _, e := range append([]*Engine{full}, pruned...) {
			if _, err := e.FinalizeBlock(b); err != nil {
				t.Fatal(err)
			}
			if err := e.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		for i, e := range pruned {
			floor, err := e.Reader().Floor()
			if err != nil {
				t.Fatal(err)
			}
			if h >= 12 && (floor == 0 || floor > h-5) {
				t.Fatalf("height %d: engine %d floor %d, want within the last 6 heights plus a quarter", h, i, floor)
			}
			for _, k := range w.keys() {
				sameRead(t, full, e, k, 0)
				if floor > 1 {
					sameRead(t, full, e, k, floor)
					if _, err := e.Reader().Get(k, floor-1); !errors.Is(err, ErrPruned) {
						t.Fatalf("height %d: %s at %d below the floor %d: %v, want ErrPruned", h, k, floor-1, floor, err)
					}
				}
			}
		}
	}
}

func newRetentionChain(t *testing.T, p types.Params, s storage.Store) *Engine {
	w := newWorkload(11)
	w.params = p
	g, vals := w.genesis()
	return openEngine(t, s, PlainVerifier{}, mustJSON(t, g), vals...)
}

func sameRead(t *testing.T, want, got *Engine, key string, height uint64) {
	t.Helper()
	a, aerr := want.Reader().Get(key, height)
	b, berr := got.Reader().Get(key, height)
	if fmt.Sprint(a, aerr) != fmt.Sprint(b, berr) {
		t.Fatalf("%s at %d: %v (%v), the chain keeping everything has %v (%v)", key, height, b, berr, a, aerr)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// committedVersions reads a key's committed version on e (the zero
// version for none): what the workload builds its checks against.
func committedVersions(e *Engine) func(string) types.Version {
	return func(k string) types.Version {
		kv, err := e.Reader().Get(k, 0)
		if err != nil {
			return types.Version{}
		}
		return kv.Version
	}
}
