package engine

import (
	"bytes"
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

func intervalOp(n uint64) []types.Op {
	return []types.Op{{Sum: &types.Op_SetSnapshotInterval{SetSnapshotInterval: &types.SetSnapshotInterval{SnapshotInterval: n}}}}
}

// putTx writes one key, signed by admin a1 of org1.
func putTx(t *testing.T, e *Engine, key string) []byte {
	t.Helper()
	return typestest.GovTx(t, e.Height(), []types.Op{{Sum: &types.Op_Put{Put: &types.Put{Key: key, Value: []byte("v")}}}}, "a1")
}

// refusedInterval submits tx to CheckTx and then in a block on every
// replica: both must refuse it with want, and no replica's params may
// change.
func (r *anchorReplicas) refusedInterval(tx []byte, want types.Code, what string) {
	r.t.Helper()
	before := r.es[0].Reader().Params()
	if got := r.es[0].CheckTx(tx); got.Code != want {
		r.t.Fatalf("%s: CheckTx %s %q, want %s", what, got.Code.Name(), got.Log, want.Name())
	}
	wantCode(r.t, r.block(tx), want, what)
	for i, e := range r.es {
		var rec chainRecord
		if ok, err := e.readJSON(&staged{}, paramsKey, &rec); !ok || err != nil {
			r.t.Fatalf("replica %d: chain record: %v", i, err)
		}
		if got := e.Reader().Params(); got != before || rec.Params != before {
			r.t.Fatalf("%s: replica %d params went from %+v to %+v (stored %+v)", what, i, before, got, rec.Params)
		}
	}
}

// snapshotAt requires every replica's last snapshot height to be want and,
// when the block just committed is that height, its snapshot to export and
// verify against the block's app hash.
func (r *anchorReplicas) snapshotAt(res *BlockResult, want uint64) {
	r.t.Helper()
	for i, e := range r.es {
		if got := e.Reader().LastSnapshotHeight(); got != want {
			r.t.Fatalf("height %d: replica %d last snapshot height %d, want %d", e.Height(), i, got, want)
		}
		if want != e.Height() {
			continue
		}
		s, err := e.Snapshot(0)
		if err != nil {
			r.t.Fatalf("replica %d: snapshot %d: %v", i, want, err)
		}
		if err := VerifySnapshot(s, res.AppHash); err != nil {
			r.t.Fatalf("replica %d: snapshot %d: %v", i, want, err)
		}
	}
}

// TestSetSnapshotInterval: SetSnapshotInterval signed by one org, by one
// key administering two orgs, by keys of no org, or with an interval above
// types.MaxSnapshotInterval is refused by CheckTx and in a block alike,
// changing no params; signed by k orgs it changes snapshot_interval from
// the block's Commit on, on every replica alike: the next snapshot height
// is the first block that writes state at least the new interval after the
// last one (turning on, shorter, longer), each verifies against its app
// hash, the audit entry records the new value, and 0 takes no more.
func TestSetSnapshotInterval(t *testing.T) {
	r := newAnchorReplicas(t)
	e := r.es[0]
	for i := range 3 {
		mustOK(t, r.block(putTx(t, e, fmt.Sprint("org1/k", i))), 0)
	}
	r.snapshotAt(nil, 0)
	r.refusedInterval(typestest.GovTx(t, e.Height(), intervalOp(3), "a1"), types.CodeUnauthorized, "one org")
	r.refusedInterval(typestest.GovTx(t, e.Height(), intervalOp(3), "multi"), types.CodeUnauthorized, "one key for two orgs")
	r.refusedInterval(typestest.GovTx(t, e.Height(), intervalOp(3), "x1", "x2"), types.CodeUnauthorized, "no org's admins")
	r.refusedInterval(typestest.GovTx(t, e.Height(), intervalOp(types.MaxSnapshotInterval+1), "a1", "a2"), types.CodeInvalidOp, "interval above the bound")

	// step commits the op setting interval n, then 7 blocks that write
	// and an empty one; opSnap is the last snapshot height after the op's
	// own block (which still follows the interval before it), wantSnap(h)
	// the one after block h.
	step := func(n, opSnap uint64, wantSnap func(h uint64) uint64) {
		t.Helper()
		tx := typestest.GovTx(t, e.Height(), intervalOp(n), "a1", "a3")
		if got := e.CheckTx(tx); got.Code != types.CodeOK {
			t.Fatalf("CheckTx of interval %d: %s %s", n, got.Code.Name(), got.Log)
		}
		res := r.block(tx)
		mustOK(t, res, 0)
		r.snapshotAt(res, opSnap)
		for i, re := range r.es {
			if got := re.Reader().Params().SnapshotInterval; got != n {
				t.Fatalf("replica %d: snapshot_interval %d after the op, want %d", i, got, n)
			}
		}
		ent := lastEntry(t, e)
		if ent.Action != "set_snapshot_interval" || !slices.Equal(ent.Resources, []string{fmt.Sprint("params:snapshot_interval:", n)}) {
			t.Fatalf("audit entry of the op: %s %v", ent.Action, ent.Resources)
		}
		for range 7 {
			h := e.Height() + 1
			res := r.block(putTx(t, e, fmt.Sprint("org1/h", h)))
			mustOK(t, res, 0)
			r.snapshotAt(res, wantSnap(h))
		}
		res = r.block() // an empty block is no snapshot height
		r.snapshotAt(res, wantSnap(e.Height()-1))
	}
	// On at height 8 (interval 3, none before): snapshots at 9, 12, 15.
	step(3, 0, func(h uint64) uint64 { return h - h%3 })
	if e.Height() != 16 {
		t.Fatalf("height %d, the test's arithmetic wants 16", e.Height())
	}
	// Longer at 17 (last 15): 20; 25 would be next.
	step(5, 15, func(h uint64) uint64 {
		if h < 20 {
			return 15
		}
		return 20
	})
	// Shorter at 26, itself a snapshot height by the old interval (5
	// after 20): then 28, 30, 32.
	step(2, 26, func(h uint64) uint64 { return h - h%2 })
	// Off at 35 (a snapshot height by the old interval): no more after it.
	step(0, 35, func(uint64) uint64 { return 35 })
}

func lastEntry(t *testing.T, e *Engine) audit.Entry {
	t.Helper()
	page, err := e.Reader().AuditEntries(audit.EntriesRequest{From: e.head.Seq, Limit: 1})
	if err != nil || len(page.Entries) != 1 {
		t.Fatalf("audit entry %d: %v", e.head.Seq, err)
	}
	return page.Entries[0]
}

// TestSnapshotIntervalAndRetention: on a chain that prunes (retain_heights
// 4), turning snapshots on pins nothing before the first snapshot height
// (an interval beyond the chain's height: the floor goes on rising); from
// it on the lowest readable height stays at or below the last snapshot
// height, whose snapshot so stays exportable and verifies; turning them off
// lets the floor (which CometBFT's retain height follows) pass the last
// snapshot height again, and turning them on again with a longer interval
// does not hold the floor at that old, already pruned, height.
func TestSnapshotIntervalAndRetention(t *testing.T) {
	g := threeOrgs()
	g.Params.RetainHeights = 4
	e := newChain(t, storage.NewInMemoryStore(), g, "val1", "val2", "val3")
	r := &anchorReplicas{t: t, es: []*Engine{e}}
	floor := func() uint64 {
		f, err := e.Reader().Floor()
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	// puts commits n writing blocks and requires the floor to pass from.
	puts := func(n int, from uint64, what string) {
		t.Helper()
		for range n {
			mustOK(t, r.block(putTx(t, e, "org1/k")), 0)
		}
		if f := floor(); f <= from {
			t.Fatalf("%s: floor %d at height %d, want above %d", what, f, e.Height(), from)
		}
	}
	interval := func(n uint64) { mustOK(t, r.block(typestest.GovTx(t, e.Height(), intervalOp(n), "a1", "a2")), 0) }
	puts(20, 10, "no snapshots")
	interval(1000)
	puts(12, floor(), "snapshots on, none taken yet")
	if got := e.Reader().LastSnapshotHeight(); got != 0 {
		t.Fatalf("a snapshot at %d with interval 1000 at height %d", got, e.Height())
	}
	interval(10)
	for range 30 {
		res := r.block(putTx(t, e, "org1/k"))
		mustOK(t, res, 0)
		snap := e.Reader().LastSnapshotHeight()
		if snap == 0 || floor() > snap {
			t.Fatalf("height %d: floor %d above the last snapshot height %d", e.Height(), floor(), snap)
		}
		s, err := e.Snapshot(0)
		if err != nil || s.Height != snap {
			t.Fatalf("height %d: the snapshot of %d does not export: %v", e.Height(), snap, err)
		}
		if snap == e.Height() {
			r.snapshotAt(res, snap)
		}
	}
	interval(0)
	snap := e.Reader().LastSnapshotHeight() // the op's block may be one still
	puts(20, snap, "snapshots off")
	interval(1000)
	puts(12, floor(), "snapshots on again, the last one pruned")
	if got := e.Reader().LastSnapshotHeight(); got != snap {
		t.Fatalf("last snapshot height %d, want %d", got, snap)
	}
}

// snapshotIntervalTx is the workload's SetSnapshotInterval (drawn from
// srng): mostly short intervals, sometimes 0 (off) or one above the bound
// (refused), signed by one to three org admins (one org is refused).
func (w *workload) snapshotIntervalTx(t testing.TB, height uint64) []byte {
	n := uint64(w.srng.Intn(8))
	if w.srng.Intn(10) == 0 {
		n = types.MaxSnapshotInterval + 1
	}
	w.intervalNonce++
	return w.signedGovTx(t, w.srng, 1<<41+w.intervalNonce, height, intervalOp(n)[0])
}

// signedGovTx signs a governance tx of op by one to three org admins
// (drawn from rng).
func (w *workload) signedGovTx(t testing.TB, rng *rand.Rand, nonce, height uint64, op types.Op) []byte {
	body := types.TxBody{ChainId: typestest.Chain, Nonce: nonce, ValidUntilHeight: height + 2, Ops: []types.Op{op}}
	var ss []security.Signer
	for _, i := range rng.Perm(3)[:1+rng.Intn(3)] {
		ss = append(ss, w.key(i))
	}
	return typestest.SignTx(t, &body, ss...)
}

// agreeOnSnapshots: every replica has the same last snapshot height and,
// at a snapshot height, exports a snapshot that verifies against the
// block's app hash (retention kept its state readable).
func agreeOnSnapshots(t *testing.T, engines []*Engine, h uint64, appHash []byte) {
	t.Helper()
	want := engines[0].Reader().LastSnapshotHeight()
	for i, e := range engines {
		if got := e.Reader().LastSnapshotHeight(); got != want {
			t.Fatalf("height %d: engine %d last snapshot height %d, engine 0 %d", h, i, got, want)
		}
		if want != h {
			continue
		}
		s, err := e.Snapshot(h)
		if err == nil {
			err = VerifySnapshot(s, appHash)
		}
		if err != nil || !bytes.Equal(s.AppHash, appHash) {
			t.Fatalf("height %d: engine %d snapshot: %v", h, i, err)
		}
	}
}

// snapshotLog counts what the workload's interval changes did on the
// reference replica: intervals taken on, turned off, snapshot heights.
type snapshotLog struct {
	interval             uint64
	changes, offs, snaps int
}

func (l *snapshotLog) note(e *Engine, h uint64) {
	if n := e.Reader().Params().SnapshotInterval; n != l.interval {
		l.changes++
		if n == 0 {
			l.offs++
		}
		l.interval = n
	}
	if e.Reader().LastSnapshotHeight() == h {
		l.snaps++
	}
}

// check requires the workload to have changed the interval and taken
// snapshots.
func (l *snapshotLog) check(t *testing.T, seed int64) {
	t.Helper()
	if l.changes == 0 || l.snaps == 0 {
		t.Fatalf("seed %d: %d interval changes, %d snapshot heights: the workload must exercise both", seed, l.changes, l.snaps)
	}
	t.Logf("seed %d: %d snapshot interval changes (%d turning snapshots off), %d snapshot heights", seed, l.changes, l.offs, l.snaps)
}
