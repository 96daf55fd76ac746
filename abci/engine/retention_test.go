package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
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

// TestPruningInStepsReadsStayExact: on Pebble a pruning pass over 3,000
// keys takes several Commits (pruneStepKeys a Commit); at every height
// while it runs, reads at and above the lowest readable height give what a
// chain that keeps everything gives, and reads below it give ErrPruned:
// the floor is the real one from the Commit that raises it.
func TestPruningInStepsReadsStayExact(t *testing.T) {
	ps, err := storage.NewPebbleStore(t.TempDir(), storage.DefaultPebbleOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ps.Close() }()
	full := newRetentionChain(t, types.Params{}, storage.NewInMemoryStore())
	pruned := newRetentionChain(t, types.Params{RetainHeights: 2}, ps)
	admin := typestest.Key("signer0")
	const keys = 3000
	nonce := uint64(0)
	var pending, sawSteps int
	for h := uint64(1); h <= 12; h++ {
		var txs [][]byte
		for lo := 0; lo < keys && h <= 4; lo += 1000 { // every key, at heights 1-4
			var ops []types.Op
			for k := lo; k < lo+1000; k++ {
				ops = append(ops, typestest.Put(fmt.Sprintf("d0/k%04d", k), fmt.Sprintf("v%d", h)))
			}
			nonce++
			txs = append(txs, typestest.SignTx(t, &types.TxBody{ChainId: typestest.Chain, Nonce: nonce, ValidUntilHeight: h, Ops: ops}, admin))
		}
		nonce++
		txs = append(txs, typestest.SignTx(t, &types.TxBody{ChainId: typestest.Chain, Nonce: nonce, ValidUntilHeight: h, Ops: []types.Op{typestest.Put("d0/tick", fmt.Sprint(h))}}, admin))
		for _, e := range []*Engine{full, pruned} {
			res, err := e.FinalizeBlock(Block{Height: h, Time: time.Unix(int64(h), 0), Txs: txs})
			if err != nil {
				t.Fatal(err)
			}
			for i := range res.Txs {
				mustOK(t, res, i)
			}
			if err := e.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		if ps.PrunePending() {
			pending++
		}
		if pruned.pruning {
			sawSteps++
		}
		floor, err := pruned.Reader().Floor()
		if err != nil {
			t.Fatal(err)
		}
		for k := 0; k < keys; k += 97 {
			key := fmt.Sprintf("d0/k%04d", k)
			for at := max(floor, 1); at <= h; at++ {
				sameRead(t, full, pruned, key, at)
			}
			if floor > 1 {
				if _, err := pruned.Reader().Get(key, floor-1); !errors.Is(err, ErrPruned) {
					t.Fatalf("height %d: %s below the floor %d: %v, want ErrPruned", h, key, floor, err)
				}
			}
		}
	}
	if sawSteps < 2 || pending < 2 {
		t.Fatalf("a pass over %d keys ran over %d Commits (store pending at %d), want several", keys, sawSteps, pending)
	}
}
