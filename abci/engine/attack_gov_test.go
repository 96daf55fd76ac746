package engine

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// Tests for the governance attacks of issue 10: (8) a validator update
// that CometBFT refuses halts the chain for good; (9) one key counting as
// several orgs in k-of-n; and a storage error ignored in the k-of-n check.

// newChain starts an engine on store with genesis g and validators (power 10
// each, named by test key).
func newChain(t *testing.T, store storage.Store, g GenesisState, vals ...string) *Engine {
	t.Helper()
	e, err := NewEngine(store, NewCachedVerifier(1024))
	if err != nil {
		t.Fatal(err)
	}
	var vs []Validator
	for _, v := range vals {
		vs = append(vs, Validator{PubKey: typestest.Key(v).PubKey(), Power: 10})
	}
	state, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.InitChain(typestest.Chain, state, vs...); err != nil {
		t.Fatal(err)
	}
	return e
}

// threeOrgs: org1..org3 with admins a1..a3, k=2, one validator each; the
// key "multi" administers org1 and org2.
func threeOrgs() GenesisState {
	g := DefaultGenesisState()
	g.Threshold = 2
	for i, id := range []string{"org1", "org2", "org3"} {
		o := types.Org{ID: id, Admins: []string{typestest.Addr("a" + id[3:])}, Validators: []string{hex.EncodeToString(typestest.Key("val" + id[3:]).PubKey())}}
		if i < 2 {
			o.Admins = append(o.Admins, typestest.Addr("multi"))
		}
		g.Orgs = append(g.Orgs, o)
	}
	return g
}

// cometSet is the validator set CometBFT would hold after applying every
// block's updates in order, as its state execution does; it fails the test
// where CometBFT would halt.
type cometSet struct{ set *cmttypes.ValidatorSet }

func newCometSet(t *testing.T, vals ...string) *cometSet {
	var vs []*cmttypes.Validator
	for _, v := range vals {
		vs = append(vs, cmttypes.NewValidator(cmted25519.PubKey(typestest.Key(v).PubKey()), 10))
	}
	return &cometSet{set: cmttypes.NewValidatorSet(vs)}
}

func (c *cometSet) apply(t *testing.T, ups []ValidatorUpdate) {
	t.Helper()
	var changes []*cmttypes.Validator
	for _, u := range ups {
		changes = append(changes, cmttypes.NewValidator(cmted25519.PubKey(u.PubKey), u.Power))
	}
	if err := c.set.UpdateWithChangeSet(changes); err != nil {
		t.Fatalf("CometBFT refuses the block's validator updates (a consensus failure, for good): %v", err)
	}
}

// TestAttackValidatorPowerHaltsChain (attack 8): add_validator with power
// 2^62 passed the engine on ffeaeb3 and CometBFT then refused the update
// (total power above MaxTotalVotingPower): a consensus failure replayed at
// every restart. Now the engine dry-runs the block's updates with
// CometBFT's own code and refuses the op with INVALID_OP.
func TestAttackValidatorPowerHaltsChain(t *testing.T) {
	e := newChain(t, storage.NewInMemoryStore(), threeOrgs(), "val1", "val2", "val3")
	comet := newCometSet(t, "val1", "val2", "val3")

	huge := typestest.GovTx(t, e.Height(), []types.Op{typestest.AddValidator("val4", 1<<62, "org1")}, "a1", "a2")
	res := runBlock(t, e, huge)
	if res.Txs[0].Code != types.CodeInvalidOp || !strings.Contains(res.Txs[0].Log, "CometBFT would refuse") {
		t.Fatalf("power 2^62: want INVALID_OP naming CometBFT's refusal, got %s %q", res.Txs[0].Code.Name(), res.Txs[0].Log)
	}
	if len(res.ValidatorUpdates) != 0 {
		t.Fatalf("a refused op handed CometBFT updates %v", res.ValidatorUpdates)
	}
	comet.apply(t, res.ValidatorUpdates)

	// Each op alone fits; together, in one block, they overflow the total.
	// CometBFT applies a block's updates at once, so the second is refused.
	half := int64(cmttypes.MaxTotalVotingPower / 2)
	tx1 := typestest.GovTx(t, e.Height(), []types.Op{typestest.AddValidator("val4", half, "org1")}, "a1", "a2")
	tx2 := typestest.GovTx(t, e.Height(), []types.Op{typestest.AddValidator("val5", half, "org2")}, "a2", "a3")
	res = runBlock(t, e, tx1, tx2)
	if res.Txs[0].Code != types.CodeOK || res.Txs[1].Code != types.CodeInvalidOp {
		t.Fatalf("want OK then INVALID_OP, got %s %q / %s %q", res.Txs[0].Code.Name(), res.Txs[0].Log, res.Txs[1].Code.Name(), res.Txs[1].Log)
	}
	comet.apply(t, res.ValidatorUpdates)

	// Changing an existing validator's power is checked against the new
	// total too; lowering it is fine.
	res = runBlock(t, e, typestest.GovTx(t, e.Height(), []types.Op{typestest.AddValidator("val1", math.MaxInt64, "org1")}, "a1", "a3"))
	if res.Txs[0].Code != types.CodeInvalidOp {
		t.Fatalf("power MaxInt64: got %s %q", res.Txs[0].Code.Name(), res.Txs[0].Log)
	}
	res = runBlock(t, e, typestest.GovTx(t, e.Height(), []types.Op{typestest.AddValidator("val4", 20, "org1")}, "a1", "a3"))
	if res.Txs[0].Code != types.CodeOK {
		t.Fatalf("lowering val4's power: got %s %q", res.Txs[0].Code.Name(), res.Txs[0].Log)
	}
	comet.apply(t, res.ValidatorUpdates)

	// The engine's view and CometBFT's agree.
	vs, err := e.Reader().Validators()
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != comet.set.Size() {
		t.Fatalf("engine has %d validators, CometBFT %d", len(vs), comet.set.Size())
	}
	for _, v := range vs {
		_, cv := comet.set.GetByAddress(cmted25519.PubKey(mustHex(t, v.PubKey)).Address())
		if cv == nil || cv.VotingPower != v.Power {
			t.Fatalf("validator %s: engine power %d, CometBFT %v", v.Address, v.Power, cv)
		}
	}
}

func mustHex(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAttackOneKeyManyOrgs (attack 9): on ffeaeb3 a key that administers
// org1 and org2 alone met k=2. Each signature now counts for one org: a
// maximum matching between signers and the orgs they administer.
func TestAttackOneKeyManyOrgs(t *testing.T) {
	e := newChain(t, storage.NewInMemoryStore(), threeOrgs(), "val1", "val2", "val3")
	res := runBlock(t, e, typestest.GovTx(t, e.Height(), []types.Op{typestest.AddValidator("val4", 10, "org1")}, "multi"))
	if res.Txs[0].Code != types.CodeUnauthorized {
		t.Fatalf("one key, two orgs: want UNAUTHORIZED, got %s %q", res.Txs[0].Code.Name(), res.Txs[0].Log)
	}
	if got := e.CheckTx(typestest.GovTx(t, e.Height(), []types.Op{typestest.AddValidator("val4", 10, "org1")}, "multi")); got.Code != types.CodeUnauthorized {
		t.Fatalf("CheckTx: want UNAUTHORIZED, got %s %q", got.Code.Name(), got.Log)
	}
	// multi + a1: greedy would give multi org1 and leave a1 nothing; the
	// matching gives multi org2 and a1 org1.
	res = runBlock(t, e, typestest.GovTx(t, e.Height(), []types.Op{typestest.AddValidator("val4", 10, "org1")}, "multi", "a1"))
	if res.Txs[0].Code != types.CodeOK {
		t.Fatalf("multi + a1 are two orgs: got %s %q", res.Txs[0].Code.Name(), res.Txs[0].Log)
	}
}

func TestOrgsOfSignersMatching(t *testing.T) {
	g := DefaultGenesisState()
	g.Threshold = 3
	// x administers o1, o2, o3; y administers o1; z administers o1, o2.
	g.Orgs = []types.Org{
		{ID: "o1", Admins: []string{typestest.Addr("x"), typestest.Addr("y"), typestest.Addr("z")}},
		{ID: "o2", Admins: []string{typestest.Addr("x"), typestest.Addr("z")}},
		{ID: "o3", Admins: []string{typestest.Addr("x")}},
	}
	e := newChain(t, storage.NewInMemoryStore(), g)
	for _, c := range []struct {
		signers []string
		want    []string
	}{
		{[]string{"x"}, []string{"o1"}},
		{[]string{"x", "y"}, []string{"o1", "o2"}},
		{[]string{"x", "y", "z"}, []string{"o1", "o2", "o3"}},
		{[]string{"y", "z", "x"}, []string{"o1", "o2", "o3"}},
		{[]string{"y", "y2"}, []string{"o1"}},
		{[]string{"nobody"}, nil},
	} {
		d := e.decode(typestest.GovTx(t, e.Height(), []types.Op{typestest.AddValidator("v", 10, "o1")}, c.signers...))
		got, err := e.orgsOfSigners(nil, d)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("signers %v: orgs %v, want %v", c.signers, got, c.want)
		}
	}
}

// failingStore fails the nth Scan of the org namespace (and every one
// after it), as a broken disk would.
type failingStore struct {
	storage.Store
	scans, failFrom int
}

var errDisk = errors.New("disk on fire")

func (f *failingStore) Scan(prefix []byte, height uint64, fn func(storage.Entry) bool) error {
	if len(prefix) == 1 && prefix[0] == nsOrg && f.failFrom > 0 {
		if f.scans++; f.scans >= f.failFrom {
			return errDisk
		}
	}
	return f.Store.Scan(prefix, height, fn)
}

// TestAttackGovStorageErrorHalts: a storage error while counting the orgs
// for k (k = majority) was ignored on ffeaeb3: k came out as 1 and a
// single org passed governance. Now the error halts FinalizeBlock.
func TestAttackGovStorageErrorHalts(t *testing.T) {
	g := threeOrgs()
	g.Threshold = 0 // a majority: k is counted from the stored orgs
	fs := &failingStore{Store: storage.NewInMemoryStore()}
	e := newChain(t, fs, g, "val1", "val2", "val3")
	tx := typestest.GovTx(t, e.Height(), []types.Op{typestest.AddValidator("val4", 10, "org1")}, "a1")
	fs.failFrom = 2 // the signers' orgs read fine; counting them for k fails
	res, err := e.FinalizeBlock(Block{Height: e.Height() + 1, Txs: [][]byte{tx}})
	if !errors.Is(err, errDisk) {
		code := "no result"
		if res != nil {
			code = res.Txs[0].Code.Name() + " " + res.Txs[0].Log
		}
		t.Fatalf("want the storage error to halt the block, got err=%v (%s)", err, code)
	}
	fs.scans = 0
	if _, _, err := e.Reader().Orgs(); !errors.Is(err, errDisk) {
		t.Fatalf("Orgs: want the storage error, got %v", err)
	}
}
