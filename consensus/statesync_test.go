package consensus

import (
	"context"
	"errors"
	"testing"

	"github.com/cometbft/cometbft/abci/example/kvstore"
	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/types"
)

// TestStateSyncPending follows CometBFT's rules for when a node state-syncs:
// only with statesync.enable, not as the chain's only genesis validator, and
// not once it holds blocks; SyncState refuses to run otherwise. MayStateSync,
// the check before a node is built, says yes whenever statesync.enable is on
// and nothing was committed.
func TestStateSyncPending(t *testing.T) {
	if testing.Short() {
		t.Skip("builds real CometBFT nodes")
	}
	home, err := InitHome(testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	pending := func(step string) bool {
		t.Helper()
		n, err := NewNode(home, kvstore.NewInMemoryApplication(), nil)
		if err != nil {
			t.Fatalf("%s: NewNode: %v", step, err)
		}
		defer n.Stop()
		p, err := n.StateSyncPending()
		if err != nil {
			t.Fatalf("%s: StateSyncPending: %v", step, err)
		}
		if !p {
			if _, err := n.SyncState(context.Background()); !errors.Is(err, ErrNoStateSync) {
				t.Fatalf("%s: SyncState = %v, want ErrNoStateSync", step, err)
			}
		}
		return p
	}
	may := func() bool {
		t.Helper()
		ok, err := home.MayStateSync()
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if pending("state sync off") || may() {
		t.Fatal("pending (or may) with statesync.enable off")
	}
	rpcs := []string{"http://127.0.0.1:1", "http://127.0.0.1:2"}
	if err := home.EnableStateSync(rpcs, 1, make([]byte, 32)); err != nil {
		t.Fatal(err)
	}
	if !may() {
		t.Fatal("MayStateSync false: statesync.enable on, nothing committed")
	}
	if pending("only validator") {
		t.Fatal("pending as the chain's only genesis validator (CometBFT skips state sync then)")
	}
	gen, err := home.Genesis()
	if err != nil {
		t.Fatal(err)
	}
	other := ed25519.GenPrivKey().PubKey()
	gen.Validators = append(gen.Validators, types.GenesisValidator{Address: other.Address(), PubKey: other, Power: 10, Name: "other"})
	if err := gen.SaveAs(home.GenesisFile()); err != nil {
		t.Fatal(err)
	}
	if !pending("one of two validators") {
		t.Fatal("not pending: statesync.enable on, two genesis validators, no state")
	}
}
