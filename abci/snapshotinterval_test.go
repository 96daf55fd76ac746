package abci

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// TestSnapshotIntervalByGovernance: on a chain that started without
// snapshots and prunes (retain_heights 4), SetSnapshotInterval signed by a
// chain-wide admin alone is refused; signed by k orgs it makes the node
// write snapshot files and offer them to state sync, with the retain
// height CometBFT gets at or below the newest one; turned off again, no
// more files are written, the retain height passes the last one (nothing
// stays pinned), and files below it stay on disk but are no longer
// offered.
func TestSnapshotIntervalByGovernance(t *testing.T) {
	ctx := context.Background()
	g := twoOrgs()
	g.Params.RetainHeights = 4
	e := newChain(t, g)
	a := NewApp(e, nil)
	dir := t.TempDir()
	if err := a.EnableSnapshots(dir); err != nil {
		t.Fatal(err)
	}
	block := func(signers []string, ops ...types.Op) {
		t.Helper()
		h := int64(e.Height()) + 1
		tx := typestest.GovTx(t, e.Height(), ops, signers...)
		res, err := a.FinalizeBlock(ctx, &abcitypes.RequestFinalizeBlock{Height: h, Time: time.Unix(h, 0), Txs: [][]byte{tx}})
		if err != nil || res.TxResults[0].Code != 0 {
			t.Fatalf("height %d: %v %v", h, res, err)
		}
		if _, err := a.Commit(ctx, &abcitypes.RequestCommit{}); err != nil {
			t.Fatal(err)
		}
	}
	puts := func(n int) {
		for i := range n {
			block([]string{"carol"}, typestest.Put("k", fmt.Sprint(i)))
		}
	}
	offered := func() []uint64 {
		t.Helper()
		list, err := a.ListSnapshots(ctx, &abcitypes.RequestListSnapshots{})
		if err != nil {
			t.Fatal(err)
		}
		var hs []uint64
		for _, s := range list.Snapshots {
			hs = append(hs, s.Height)
		}
		return hs
	}
	interval := func(n uint64) types.Op {
		return types.Op{Sum: &types.Op_SetSnapshotInterval{SetSnapshotInterval: &types.SetSnapshotInterval{SnapshotInterval: n}}}
	}
	puts(10)
	if res := runBlock(t, e, typestest.GovTx(t, e.Height(), []types.Op{interval(5)}, "carol")); res.Txs[0].Code != types.CodeUnauthorized {
		t.Fatalf("snapshot interval signed by a chain-wide admin alone: %s, want UNAUTHORIZED", res.Txs[0].Code.Name())
	}
	if hs, err := SnapshotHeights(dir); len(hs) != 0 || err != nil || len(offered()) != 0 {
		t.Fatalf("snapshots before they are on: files %v (%v), offered %v", hs, err, offered())
	}
	block([]string{"alice", "bob"}, interval(5))
	puts(17)
	files, err := SnapshotHeights(dir)
	if err != nil || len(files) != keepSnapshots {
		t.Fatalf("snapshot files %v (%v) after 17 blocks with interval 5", files, err)
	}
	last := files[len(files)-1]
	if rh := uint64(a.retainHeight()); rh == 0 || rh > last || !slices.Contains(offered(), last) {
		t.Fatalf("retain height %d, newest snapshot %d offered %v: want the snapshot offered and its blocks kept", rh, last, offered())
	}
	block([]string{"alice", "bob"}, interval(0))
	puts(12)
	after, err := SnapshotHeights(dir)
	if err != nil || after[len(after)-1] > e.Height()-12 {
		t.Fatalf("snapshot files %v (%v) written with snapshots off", after, err)
	}
	if rh := uint64(a.retainHeight()); rh <= after[len(after)-1] || len(offered()) != 0 {
		t.Fatalf("snapshots off: retain height %d, files %v, offered %v: want the retain height past them and none offered", rh, after, offered())
	}
}
