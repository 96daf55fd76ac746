package abci

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/dstt/dstt/abci/engine"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

func peerID(n int) string { return fmt.Sprintf("%040x", n) }

// filterPeer asks the app about a peer as CometBFT's filter_peers does and
// returns the answer's code and message.
func filterPeer(t *testing.T, a *App, id string) (types.Code, string) {
	t.Helper()
	res, err := a.Query(context.Background(), &abcitypes.RequestQuery{Path: types.QueryPeerFilterID + id})
	if err != nil {
		t.Fatal(err)
	}
	return types.Code(res.Code), res.Log
}

// A node without chain state (joining by state sync) admits only the peers
// its operator configured, each refusal recorded as a refused read; once it
// has state, membership alone decides, configured or not.
func TestPeerFilterBeforeState(t *testing.T) {
	e, err := engine.NewEngine(storage.NewInMemoryStore(), engine.PlainVerifier{})
	if err != nil {
		t.Fatal(err)
	}
	open := NewApp(e, nil) // the default: every peer until restored
	if code, log := filterPeer(t, open, peerID(2)); code != types.CodeOK {
		t.Fatalf("without a configured list, a peer before state: %s %s", code.Name(), log)
	}

	a := NewApp(e, nil)
	var refused []string
	a.OnAuthFailure = func(_ context.Context, _, path, reason string) { refused = append(refused, path) }
	a.AdmitBeforeState([]string{strings.ToUpper(peerID(1))}) // IDs compare normalised
	if code, log := filterPeer(t, a, peerID(1)); code != types.CodeOK {
		t.Fatalf("a configured peer before state: %s %s", code.Name(), log)
	}
	code, log := filterPeer(t, a, peerID(2))
	if code != types.CodeUnauthorized || !strings.Contains(log, "configured peers") {
		t.Fatalf("an unconfigured peer before state: %s %q; want UNAUTHORIZED naming the rule", code.Name(), log)
	}
	if len(refused) != 1 || refused[0] != types.QueryPeerFilterID+peerID(2) {
		t.Fatalf("recorded refusals %q", refused)
	}

	// The chain's state arrives (as a restored snapshot would bring it):
	// org1 registers node 2, not the configured node 1.
	g := engine.DefaultGenesisState()
	g.Orgs = []types.Org{{ID: "org1", Admins: []string{typestest.Addr("admin1")}, Nodes: []string{peerID(2)}}}
	state, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.InitChain(typestest.Chain, state); err != nil {
		t.Fatal(err)
	}
	if code, log := filterPeer(t, a, peerID(2)); code != types.CodeOK {
		t.Fatalf("a registered peer with state: %s %s", code.Name(), log)
	}
	if code, log := filterPeer(t, a, peerID(1)); code != types.CodeUnauthorized || !strings.Contains(log, "registered for no member org") {
		t.Fatalf("a configured but unregistered peer with state: %s %q", code.Name(), log)
	}
}
