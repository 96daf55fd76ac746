package abci

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/dstt/dstt/abci/engine"
	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// TestRetentionByGovernance: the retention rule changes only with k-of-n
// org signatures; once on, reads below the retained height answer PRUNED
// naming the lowest readable height, the latest read is unchanged, and
// Commit hands CometBFT the same height to prune its blocks to.
func TestRetentionByGovernance(t *testing.T) {
	g := twoOrgs()
	e := newChain(t, g)
	a := NewApp(e, nil)
	retain := []types.Op{{Sum: &types.Op_SetRetention{SetRetention: &types.SetRetention{RetainHeights: 4}}}}
	res := runBlock(t, e, typestest.GovTx(t, e.Height(), retain, "alice"))
	if res.Txs[0].Code != types.CodeUnauthorized {
		t.Fatalf("retention signed by one org: %s, want UNAUTHORIZED", res.Txs[0].Code.Name())
	}
	mustOK(t, runBlock(t, e, typestest.GovTx(t, e.Height(), retain, "alice", "bob")), 0)
	if p := a.reader.Params(); p.RetainHeights != 4 {
		t.Fatalf("params after SetRetention: %+v", p)
	}
	var rh int64
	for i := range 12 {
		mustOK(t, runBlock(t, e, typestest.GovTx(t, e.Height(), []types.Op{typestest.Put("k", string(rune('a'+i)))}, "carol")), 0)
		resp, err := a.Commit(context.Background(), &abcitypes.RequestCommit{})
		if err == nil || resp != nil {
			t.Fatalf("Commit without a block: %v %v", resp, err)
		}
		rh = a.retainHeight()
	}
	floor, err := a.reader.Floor()
	if err != nil || floor == 0 || int64(floor) != rh {
		t.Fatalf("floor %d (%v), retain height %d: want the same, above 0", floor, err, rh)
	}
	q := query(t, a, signedQueryAt(t, typestest.Key("carol"), types.QueryGet, []byte("k"), 3, 1))
	if q.Code != uint32(types.CodePruned) || !strings.Contains(q.Log, "lowest readable height") {
		t.Fatalf("read below the floor: code %d %q, want PRUNED naming the lowest readable height", q.Code, q.Log)
	}
	if q = signedRead(t, a, typestest.Key("carol"), types.QueryGet, []byte("k"), 2); q.Code != 0 {
		t.Fatalf("latest read: %+v", q)
	}
}

// twoOrgs: chain-wide admin carol; orgs o1 (admin alice) and o2 (admin
// bob), k = 2.
func twoOrgs() engine.GenesisState {
	g := engine.DefaultGenesisState()
	g.Admins = []string{typestest.Addr("carol")}
	g.Orgs = []types.Org{{ID: "o1", Admins: []string{typestest.Addr("alice")}}, {ID: "o2", Admins: []string{typestest.Addr("bob")}}}
	g.Threshold = 2
	return g
}

// signedQueryAt is signedQuery for a read at height.
func signedQueryAt(t *testing.T, s security.Signer, path string, data []byte, height, n uint64) []byte {
	t.Helper()
	ms := time.Now().UnixMilli()
	nonce := make([]byte, types.QueryNonceSize)
	binary.BigEndian.PutUint64(nonce, n)
	sig, err := s.Sign(types.QuerySignBytes(typestest.Chain, path, data, height, ms, nonce))
	if err != nil {
		t.Fatal(err)
	}
	sq := types.SignedQuery{Path: path, Data: data, Height: height, TimeUnixMs: ms, PubKey: s.PubKey(), Signature: sig, Nonce: nonce}
	b, err := sq.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
