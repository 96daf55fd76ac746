package chainstate

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	cfg "github.com/cometbft/cometbft/config"
)

// TestMarkRestored: a home bootstrapped at H whose offline state sync height
// was never marked (a stop between CometBFT storing the state and the mark)
// gets H marked, once; a home without stores, or one already marked, is left
// alone.
func TestMarkRestored(t *testing.T) {
	a, gen := testAnchor(t, 7)
	c := cfg.DefaultConfig()
	c.SetRoot(t.TempDir())
	if marked, err := MarkRestored(c); marked || err != nil {
		t.Fatalf("home without stores: MarkRestored = %v, %v", marked, err)
	}
	if _, err := os.Stat(filepath.Join(c.DBDir(), "state.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("MarkRestored created the state store (stat: %v)", err)
	}
	if err := Bootstrap(c, gen, a); err != nil {
		t.Fatal(err)
	}
	if marked, err := MarkRestored(c); marked || err != nil {
		t.Fatalf("after Bootstrap: MarkRestored = %v, %v; want nothing to do", marked, err)
	}
	offline := func(set int64) int64 {
		t.Helper()
		_, ss, closeDBs, err := openStores(c)
		if err != nil {
			t.Fatal(err)
		}
		defer closeDBs()
		if set >= 0 {
			if err := ss.SetOfflineStateSyncHeight(set); err != nil {
				t.Fatal(err)
			}
		}
		h, _ := ss.GetOfflineStateSyncHeight()
		return h
	}
	offline(0) // the stop before the mark
	if marked, err := MarkRestored(c); !marked || err != nil {
		t.Fatalf("unmarked restore: MarkRestored = %v, %v; want marked", marked, err)
	}
	if got, want := offline(-1), a.State(gen).LastBlockHeight; got != want {
		t.Fatalf("offline state sync height %d, want %d", got, want)
	}
	if marked, err := MarkRestored(c); marked || err != nil {
		t.Fatalf("second call: MarkRestored = %v, %v", marked, err)
	}
}
