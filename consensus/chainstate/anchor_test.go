package chainstate

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	cmtversionproto "github.com/cometbft/cometbft/proto/tendermint/version"
	"github.com/cometbft/cometbft/types"
	cmtversion "github.com/cometbft/cometbft/version"
)

const testChain = "chainstate-test"

// testAnchor builds the Anchor of height h of a chain of four validators
// who all sign: real headers, commits and signatures.
func testAnchor(t testing.TB, h int64) (*Anchor, *types.GenesisDoc) {
	t.Helper()
	vals, privs := types.RandValidatorSet(4, 10)
	params := types.DefaultConsensusParams()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	hash := func(s string) []byte { b := sha256.Sum256([]byte(s)); return b[:] }
	header := func(height int64, last types.BlockID, lastCommit []byte) *types.Header {
		return &types.Header{
			Version: cmtversionproto.Consensus{Block: cmtversion.BlockProtocol}, ChainID: testChain, Height: height,
			Time: now.Add(time.Duration(height) * time.Second), LastBlockID: last, LastCommitHash: lastCommit,
			DataHash: hash("data"), ValidatorsHash: vals.Hash(), NextValidatorsHash: vals.Hash(),
			ConsensusHash: params.Hash(), AppHash: hash("app"), LastResultsHash: hash("results"),
			EvidenceHash: hash("evidence"), ProposerAddress: vals.Proposer.Address,
		}
	}
	commit := func(hd *types.Header) *types.Commit {
		id := types.BlockID{Hash: hd.Hash(), PartSetHeader: types.PartSetHeader{Total: 1, Hash: hash("parts")}}
		vs := types.NewVoteSet(testChain, hd.Height, 0, cmtproto.PrecommitType, vals)
		ec, err := types.MakeExtCommit(id, hd.Height, 0, vs, privs, hd.Time, false)
		if err != nil {
			t.Fatal(err)
		}
		return ec.ToCommit()
	}
	last := header(h, types.BlockID{Hash: hash("prev"), PartSetHeader: types.PartSetHeader{Total: 1, Hash: hash("prev parts")}}, hash("prev commit"))
	lastCommit := commit(last)
	cur := header(h+1, lastCommit.BlockID, lastCommit.Hash())
	a := &Anchor{
		Last: &types.SignedHeader{Header: last, Commit: lastCommit}, Current: &types.SignedHeader{Header: cur, Commit: commit(cur)},
		LastValidators: vals.Copy(), Validators: vals.Copy(), NextValidators: vals.Copy(), Params: *params,
	}
	gen := &types.GenesisDoc{ChainID: testChain, InitialHeight: 1}
	for _, v := range vals.Validators {
		gen.Validators = append(gen.Validators, types.GenesisValidator{PubKey: v.PubKey, Power: v.VotingPower})
	}
	return a, gen
}

func TestAnchorVerifies(t *testing.T) {
	a, gen := testAnchor(t, 7)
	b, err := a.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	appHash, err := got.Verify(gen, Trust{})
	if err != nil || !bytes.Equal(appHash, a.Current.AppHash) {
		t.Fatalf("Verify with the genesis validators: %X, %v", appHash, err)
	}
	for _, trust := range []Trust{{8, a.Current.Hash()}, {7, a.Last.Hash()}} {
		if _, err := got.Verify(gen, trust); err != nil {
			t.Fatalf("Verify trusting header %d: %v", trust.Height, err)
		}
	}
	st := got.State(gen)
	if st.LastBlockHeight != 7 || !bytes.Equal(st.AppHash, a.Current.AppHash) || st.Validators.Size() != 4 || st.LastHeightValidatorsChanged != 9 {
		t.Fatalf("State: %+v", st)
	}
}

func TestAnchorRefusesUntrusted(t *testing.T) {
	a, gen := testAnchor(t, 7)
	other, otherGen := testAnchor(t, 7)
	for name, c := range map[string]struct {
		a     *Anchor
		gen   *types.GenesisDoc
		trust Trust
	}{
		"other chain's validators": {a, otherGen, Trust{}},
		"wrong trusted hash":       {a, gen, Trust{8, other.Current.Hash()}},
		"trusted height not in it": {a, gen, Trust{20, a.Current.Hash()}},
		"another chain id":         {a, &types.GenesisDoc{ChainID: "other", Validators: gen.Validators}, Trust{}},
	} {
		if _, err := c.a.Verify(c.gen, c.trust); !errors.Is(err, ErrRefused) {
			t.Errorf("%s: %v; want ErrRefused", name, err)
		}
	}
}

// TestAnchorEveryByte flips each byte of an encoded Anchor: Decode or
// Verify refuses it, except a change of what no validator signs (proposer
// priorities, the proposer, the consensus params outside the header's
// ConsensusHash: CometBFT hashes only the block size and gas limits): the
// backup file's own signature covers those.
func TestAnchorEveryByte(t *testing.T) {
	a, gen := testAnchor(t, 7)
	b, err := a.Encode()
	if err != nil {
		t.Fatal(err)
	}
	unsigned := 0
	for i := range b {
		bad := bytes.Clone(b)
		bad[i] ^= 0x01
		got, err := Decode(bad)
		if err == nil {
			_, err = got.Verify(gen, Trust{})
		}
		if err != nil {
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("byte %d: %v; want ErrRefused", i, err)
			}
			continue
		}
		if !onlyUnsignedDiffer(t, a, got) {
			t.Fatalf("byte %d changed the anchor and was accepted", i)
		}
		unsigned++
	}
	t.Logf("%d of %d bytes refused; %d change only what no validator signs", len(b)-unsigned, len(b), unsigned)
}

// onlyUnsignedDiffer: a and b encode alike once proposer priorities,
// proposers and the unhashed consensus params are cleared.
func onlyUnsignedDiffer(t *testing.T, a, b *Anchor) bool {
	t.Helper()
	clear := func(x *Anchor) []byte {
		c := *x
		c.Params = types.ConsensusParams{Block: x.Params.Block}
		for _, v := range []**types.ValidatorSet{&c.LastValidators, &c.Validators, &c.NextValidators} {
			set := (*v).Copy()
			for _, val := range set.Validators {
				val.ProposerPriority = 0
			}
			set.Proposer = set.Validators[0]
			*v = set
		}
		enc, err := c.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return enc
	}
	return bytes.Equal(clear(a), clear(b))
}

func FuzzDecode(f *testing.F) {
	a, _ := testAnchor(f, 3)
	b, err := a.Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := Decode(in)
		if err != nil {
			return
		}
		again, err := got.Encode()
		if err != nil || !bytes.Equal(again, in) {
			t.Fatalf("decode then encode: %v, %X != %X", err, again, in)
		}
	})
}
