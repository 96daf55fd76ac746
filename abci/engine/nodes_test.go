package engine

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

func registerNode(id, org string) types.Op {
	return types.Op{Sum: &types.Op_RegisterNode{RegisterNode: &types.RegisterNode{NodeId: id, Org: org}}}
}

func removeNode(id, org string) types.Op {
	return types.Op{Sum: &types.Op_RemoveNode{RemoveNode: &types.RemoveNode{NodeId: id, Org: org}}}
}

// nodeID is a made-up node ID (40 lowercase hex digits).
func nodeID(n int) string { return fmt.Sprintf("%040x", n) }

// nodeTx runs op in a tx of its own and checks its code and reason rule.
func nodeTx(t *testing.T, e *Engine, signer string, op types.Op, code types.Code, rule string) {
	t.Helper()
	res := runBlock(t, e, typestest.GovTx(t, e.Height(), []types.Op{op}, signer))
	out := res.Txs[0]
	if out.Code != code || (rule != "" && (out.Reason == nil || out.Reason.Rule != rule)) {
		t.Fatalf("%v by %s: %s %+v %q; want %s %s", op.Sum, signer, out.Code.Name(), out.Reason, out.Log, code.Name(), rule)
	}
}

func registered(t *testing.T, e *Engine) string {
	t.Helper()
	nodes, err := e.Reader().Nodes()
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, n := range nodes {
		s = append(s, n.ID[36:]+"@"+n.Org)
	}
	return strings.Join(s, " ")
}

// TestPeerAdmission: genesis nodes are admitted; an org's admin registers
// and removes its nodes, nobody else can; refusals have stable codes and
// rules; removing an org drops its nodes; the filter reads committed state.
func TestPeerAdmission(t *testing.T) {
	g := threeOrgs()
	g.Orgs[0].Nodes = []string{nodeID(1)}
	g.Orgs[1].Nodes = []string{nodeID(2)}
	store := storage.NewInMemoryStore()
	e := newChain(t, store, g, "val1", "val2", "val3")
	admitted := func(id string) error { return e.Reader().PeerAdmitted(id) }
	if err := admitted(nodeID(1)); err != nil {
		t.Fatalf("genesis node refused: %v", err)
	}
	if err := admitted(strings.ToUpper(nodeID(2))); err != nil {
		t.Fatalf("genesis node (upper case) refused: %v", err)
	}
	for _, id := range []string{nodeID(3), "", "zz", "../x"} {
		if err := admitted(id); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("%q admitted or wrong error: %v", id, err)
		}
	}

	nodeTx(t, e, "a3", registerNode(nodeID(3), "org3"), types.CodeOK, "")
	nodeTx(t, e, "a3", registerNode(nodeID(4), "org1"), types.CodeUnauthorized, ruleLacksAdmin)
	nodeTx(t, e, "a1", registerNode(nodeID(3), "org1"), types.CodeInvalidOp, ruleNodeRegistered)
	nodeTx(t, e, "a1", registerNode(nodeID(5), "nosuch"), types.CodeUnauthorized, ruleLacksAdmin)
	nodeTx(t, e, "a1", removeNode(nodeID(3), "org1"), types.CodeInvalidOp, ruleNoNode)
	nodeTx(t, e, "a1", registerNode("not-an-id", "org1"), types.CodeInvalidOp, "")
	if err := admitted(nodeID(3)); err != nil {
		t.Fatalf("registered node refused: %v", err)
	}
	if got, want := registered(t, e), "0001@org1 0002@org2 0003@org3"; got != want {
		t.Fatalf("registered %q, want %q", got, want)
	}
	nodeTx(t, e, "a3", removeNode(nodeID(3), "org3"), types.CodeOK, "")
	if err := admitted(nodeID(3)); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("removed node admitted: %v", err)
	}

	// Staged is not committed: the filter answers from the last commit.
	tx := typestest.GovTx(t, e.Height(), []types.Op{registerNode(nodeID(6), "org3")}, "a3")
	if _, err := e.FinalizeBlock(Block{Height: e.Height() + 1, Txs: [][]byte{tx}}); err != nil {
		t.Fatal(err)
	}
	if err := admitted(nodeID(6)); err == nil {
		t.Fatal("a node registered in a block not yet committed is admitted")
	}
	if err := e.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := admitted(nodeID(6)); err != nil {
		t.Fatalf("after commit: %v", err)
	}

	// Removing org3 (its validator first) removes its nodes in the same tx.
	rm := []types.Op{
		{Sum: &types.Op_RemoveValidator{RemoveValidator: &types.RemoveValidator{PubKey: typestest.Key("val3").PubKey()}}},
		{Sum: &types.Op_RemoveOrg{RemoveOrg: &types.RemoveOrg{Id: "org3"}}},
	}
	res := runBlock(t, e, typestest.GovTx(t, e.Height(), rm, "a1", "a2"))
	mustOK(t, res, 0)
	if err := admitted(nodeID(6)); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("a removed org's node is admitted: %v", err)
	}
	if got, want := registered(t, e), "0001@org1 0002@org2"; got != want {
		t.Fatalf("registered %q, want %q", got, want)
	}

	// A restart reads the same registrations.
	e2 := openEngine(t, store, NewCachedVerifier(16), nil)
	if err := e2.Reader().PeerAdmitted(nodeID(1)); err != nil {
		t.Fatalf("after reopen: %v", err)
	}
}

// TestNodeLimit: one org cannot make the chain hold more than
// MaxNodesPerOrg registrations.
func TestNodeLimit(t *testing.T) {
	e := newChain(t, storage.NewInMemoryStore(), threeOrgs(), "val1", "val2", "val3")
	ops := make([]types.Op, 0, MaxNodesPerOrg)
	for i := range MaxNodesPerOrg {
		ops = append(ops, registerNode(nodeID(100+i), "org1"))
	}
	res := runBlock(t, e, typestest.GovTx(t, e.Height(), ops, "a1"))
	mustOK(t, res, 0)
	nodeTx(t, e, "a1", registerNode(nodeID(99), "org1"), types.CodeInvalidOp, ruleNodeLimit)
	nodeTx(t, e, "a2", registerNode(nodeID(99), "org2"), types.CodeOK, "")
}

// TestGenesisNodes: genesis refuses a malformed or doubly listed node ID.
func TestGenesisNodes(t *testing.T) {
	for _, nodes := range [][]string{{"xyz"}, {nodeID(1), nodeID(1)}} {
		e, err := NewEngine(storage.NewInMemoryStore(), PlainVerifier{})
		if err != nil {
			t.Fatal(err)
		}
		state := fmt.Appendf(nil, `{"orgs":[{"id":"org1","admins":["%s"],"nodes":["%s"]}]}`, typestest.Addr("a1"), strings.Join(nodes, `","`))
		if _, err := e.InitChain(typestest.Chain, state); !errors.Is(err, ErrGenesis) {
			t.Fatalf("genesis nodes %v: %v, want ErrGenesis", nodes, err)
		}
	}
}
