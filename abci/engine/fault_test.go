package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
)

// TestStorageFaultHalts: a store that starts failing reads or commits at
// some point of the replicated path makes FinalizeBlock or Commit return an
// error (the node halts) in the very call that met the fault; no call that
// met a fault returns an app hash. After a restart on the healed store the
// node goes on with the same app hashes as a replica that never failed.
func TestStorageFaultHalts(t *testing.T) {
	for _, op := range []struct {
		name string
		ops  storage.FaultOps
	}{{"get", storage.FaultGet}, {"scan", storage.FaultScan}, {"commit", storage.FaultCommit}, {"all", storage.FaultAll}} {
		n := faultRun(t, op.ops, math.MaxInt) // count the calls
		for i := range 8 {
			skip := i * n / 8
			t.Run(fmt.Sprintf("%s/skip=%d", op.name, skip), func(t *testing.T) { faultRun(t, op.ops, skip) })
		}
	}
}

// faultRun runs 25 blocks of the replica workload on a healthy engine and
// on one whose store fails the calls in ops after the first skip; it returns
// how many calls in ops the run made.
func faultRun(t *testing.T, ops storage.FaultOps, skip int) int {
	w := newWorkload(7)
	genesis, vals := w.genesis()
	state, err := json.Marshal(genesis)
	if err != nil {
		t.Fatal(err)
	}
	open := func(s storage.Store) *Engine { return openEngine(t, s, PlainVerifier{}, state, vals...) }
	ref := open(storage.NewInMemoryStore())
	fs := storage.NewFaultyStore(storage.NewInMemoryStore())
	e := open(fs)
	w.ref = ref
	versions := func(k string) (v types.Version) {
		if kv, err := ref.Reader().Get(k, 0); err == nil {
			v = kv.Version
		}
		return v
	}
	fs.Inject(ops, skip)
	halts := 0
	for h := uint64(1); h <= 25; h++ {
		b := w.block(t, h, versions)
		want, err := ref.FinalizeBlock(b)
		if err != nil {
			t.Fatal(err)
		}
		if err := ref.Commit(); err != nil {
			t.Fatal(err)
		}
		for {
			fired := fs.Fired()
			res, err := e.FinalizeBlock(b)
			if err == nil {
				if fs.Fired() != fired {
					t.Fatalf("height %d: FinalizeBlock met a storage fault and returned app hash %X", h, res.AppHash)
				}
				if !bytes.Equal(res.AppHash, want.AppHash) {
					t.Fatalf("height %d: app hash %X, the healthy replica %X", h, res.AppHash, want.AppHash)
				}
				err = e.Commit()
				if err == nil && fs.Fired() != fired {
					t.Fatalf("height %d: Commit met a storage fault and returned no error", h)
				}
			}
			if err == nil {
				break
			}
			if !errors.Is(err, storage.ErrInjected) {
				t.Fatalf("height %d: the error does not wrap the storage fault: %v", h, err)
			}
			// The node halts. The operator fixes the disk and restarts:
			// the engine reopens at the last committed height.
			halts++
			fs.Heal()
			e = open(fs)
			if e.Height() != h-1 {
				t.Fatalf("restart after a fault at height %d: engine at height %d", h, e.Height())
			}
		}
	}
	if skip != math.MaxInt && halts != 1 { // skip is below the dry run's count
		t.Fatalf("%d halts, want 1 (the fault never fired?)", halts)
	}
	return fs.Calls()
}
