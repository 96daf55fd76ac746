package audit

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/libs/bytes"
	cmtmath "github.com/cometbft/cometbft/libs/math"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	cmtversion "github.com/cometbft/cometbft/proto/tendermint/version"
	rpcclient "github.com/cometbft/cometbft/rpc/client"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/cometbft/cometbft/version"

	"github.com/dstt/dstt/security"
	sigverify "github.com/dstt/dstt/security/verify"
	"github.com/dstt/dstt/types"
)

// fakeNode serves the audit queries the way the engine must: from an
// InMemorySource, with a state hash per height.
type fakeNode struct {
	src    *InMemorySource
	heads  map[int64]HeadResponse
	latest int64
	calls  int
	// With requireSigner set, QueryEntries must come signed by it, as the
	// engine requires of readers on a closed chain.
	requireSigner []byte
	seenSigs      map[string]bool
}

func (n *fakeNode) ABCIQueryWithOptions(ctx context.Context, path string, data bytes.HexBytes, opts rpcclient.ABCIQueryOptions) (*ctypes.ResultABCIQuery, error) {
	n.calls++
	resp := abcitypes.ResponseQuery{Height: n.latest}
	signed := false
	if path == types.QuerySigned {
		var sq types.SignedQuery
		if err := sq.Unmarshal(data); err != nil {
			return nil, err
		}
		if !sigverify.Signature(sq.PubKey, types.QuerySignBytes("audit-test", sq.Path, sq.Data, sq.Height, sq.TimeUnixMs, sq.Nonce), sq.Signature) || n.seenSigs[string(sq.Signature)] {
			resp.Code, resp.Log = 11, "bad or replayed signature"
			return &ctypes.ResultABCIQuery{Response: resp}, nil
		}
		if n.seenSigs == nil {
			n.seenSigs = map[string]bool{}
		}
		n.seenSigs[string(sq.Signature)] = true
		signed = string(sq.PubKey) == string(n.requireSigner)
		path, data, opts.Height = sq.Path, sq.Data, int64(sq.Height)
	}
	if path == QueryEntries && n.requireSigner != nil && !signed {
		resp.Code, resp.Log = 11, "unauthorized"
		return &ctypes.ResultABCIQuery{Response: resp}, nil
	}
	switch path {
	case QueryEntries:
		req, err := DecodeEntriesRequest(data)
		if err != nil {
			resp.Code, resp.Log = 14, err.Error()
			break
		}
		es, err := n.src.Entries(ctx, req.From, int(min(req.Limit, 7))) // a server-side cap below the asked limit
		if err != nil {
			return nil, err
		}
		head, _ := n.src.Head(ctx)
		resp.Value = EntriesResponse{Head: head, Entries: es}.Encode()
	case QueryHead:
		h := opts.Height
		if h == 0 {
			h = n.latest
		}
		r, ok := n.heads[h]
		if !ok {
			resp.Code, resp.Log = 14, "no such height"
			break
		}
		resp.Value, resp.Height = r.Encode(), h
	default:
		resp.Code, resp.Log = 14, "unknown path"
	}
	return &ctypes.ResultABCIQuery{Response: resp}, nil
}

func TestQueryEncodings(t *testing.T) {
	es := chained(5)
	req := EntriesRequest{From: 300, Limit: 1 << 31}
	if got, err := DecodeEntriesRequest(req.Encode()); err != nil || got != req {
		t.Fatalf("request: %+v %v", got, err)
	}
	if got, err := DecodeEntriesRequest(nil); err != nil || (got != EntriesRequest{}) {
		t.Fatalf("empty request: %+v %v", got, err)
	}
	resp := EntriesResponse{Head: ChainHead{Seq: 5, Hash: es[4].Hash}, Entries: es}
	if got, err := DecodeEntriesResponse(resp.Encode()); err != nil || !reflect.DeepEqual(got, resp) {
		t.Fatalf("response: %v", err)
	}
	hr := HeadResponse{Height: 9, StateHash: es[0].Hash, Head: ChainHead{Seq: 5, Hash: es[4].Hash}}
	if got, err := DecodeHeadResponse(hr.Encode()); err != nil || !reflect.DeepEqual(got, hr) {
		t.Fatalf("head: %+v %v", got, err)
	}
	// Pinned bytes: the lead's server and this client must agree on them.
	if got := (EntriesRequest{From: 300, Limit: 100}).Encode(); string(got) != "\x01\xac\x02\x64" {
		t.Fatalf("request bytes %x", got)
	}
}

func TestRPCSource(t *testing.T) {
	src := NewInMemorySource()
	src.Append(sampleEntries(40)...)
	node := &fakeNode{src: src, heads: map[int64]HeadResponse{}, latest: 3}
	head, _ := src.Head(context.Background())
	node.heads[3] = HeadResponse{Height: 3, StateHash: make([]byte, 32), Head: head}
	rs := NewRPCSource(node)
	ctx := context.Background()
	got, err := rs.Head(ctx)
	if err != nil || !got.Equal(head) {
		t.Fatalf("head %v %v", got, err)
	}
	all, err := ReadAll(ctx, rs, 1, 0)
	if err != nil || len(all) != 40 {
		t.Fatalf("read %d: %v", len(all), err)
	}
	if err := VerifyAnchored(all, ChainHead{}, head); err != nil {
		t.Fatal(err)
	}
	if es, err := rs.Entries(ctx, 41, 10); err != nil || len(es) != 0 {
		t.Fatalf("past the head: %d %v", len(es), err)
	}
	if _, err := rs.HeadAt(ctx, 99); !errors.Is(err, ErrQuery) {
		t.Fatalf("missing height: %v", err)
	}

	// A closed chain: entries need a signed query by an authorised reader.
	reader, _ := security.GenerateKey()
	node.requireSigner = reader.PubKey()
	if _, err := rs.Entries(ctx, 1, 5); !errors.Is(err, ErrQuery) {
		t.Fatalf("unsigned read of a closed chain: %v", err)
	}
	signed := NewRPCSource(node).SignWith("audit-test", reader)
	signed.now = func() time.Time { return time.UnixMilli(1_700_000_000_000) } // a frozen clock: timestamps must still differ
	all, err = ReadAll(ctx, signed, 1, 0)
	if err != nil || len(all) != 40 {
		t.Fatalf("signed read: %d entries, %v", len(all), err)
	}
	if _, err := signed.Head(ctx); err != nil {
		t.Fatal(err)
	}
}

// testValidators is a validator set with its private validators.
type testValidators struct {
	set *cmttypes.ValidatorSet
	pvs []cmttypes.PrivValidator
}

func newTestValidators(n int) testValidators {
	var tv testValidators
	var vals []*cmttypes.Validator
	for range n {
		pv := cmttypes.NewMockPV()
		tv.pvs = append(tv.pvs, pv)
		vals = append(vals, pv.ExtractIntoValidator(10))
	}
	tv.set = cmttypes.NewValidatorSet(vals)
	// Order the private validators like the set.
	ordered := make([]cmttypes.PrivValidator, len(tv.pvs))
	for _, pv := range tv.pvs {
		pk, _ := pv.GetPubKey()
		idx, _ := tv.set.GetByAddress(pk.Address())
		ordered[idx] = pv
	}
	tv.pvs = ordered
	return tv
}

// signedHeader makes a header for height with appHash, committed by the
// first signers validators of tv (the others' votes are marked absent).
func (tv testValidators) signedHeader(t *testing.T, chainID string, height int64, appHash []byte, signers int) *cmttypes.SignedHeader {
	t.Helper()
	hdr := &cmttypes.Header{
		Version: cmtversion.Consensus{Block: version.BlockProtocol},
		ChainID: chainID, Height: height, Time: time.Date(2025, 1, 1, 0, 0, int(height), 0, time.UTC),
		ValidatorsHash: tv.set.Hash(), NextValidatorsHash: tv.set.Hash(), AppHash: appHash,
		ProposerAddress: tv.set.Proposer.Address,
	}
	bid := cmttypes.BlockID{Hash: hdr.Hash(), PartSetHeader: cmttypes.PartSetHeader{Total: 1, Hash: make([]byte, 32)}}
	vs := cmttypes.NewVoteSet(chainID, height, 0, cmtproto.PrecommitType, tv.set)
	ec, err := cmttypes.MakeExtCommit(bid, height, 0, vs, tv.pvs, hdr.Time, false)
	if err != nil {
		t.Fatal(err)
	}
	c := ec.ToCommit()
	for i := signers; i < len(c.Signatures); i++ {
		c.Signatures[i] = cmttypes.NewCommitSigAbsent()
	}
	return &cmttypes.SignedHeader{Header: hdr, Commit: c}
}

type fakeCommits struct {
	headers map[int64]*cmttypes.SignedHeader
	vals    *cmttypes.ValidatorSet
}

func (f fakeCommits) SignedHeader(_ context.Context, h int64) (*cmttypes.SignedHeader, error) {
	sh, ok := f.headers[h]
	if !ok {
		return nil, errors.New("no such block")
	}
	return sh, nil
}

func (f fakeCommits) ValidatorSet(context.Context, int64) (*cmttypes.ValidatorSet, error) {
	return f.vals, nil
}

func TestVerifyAgainstCommit(t *testing.T) {
	const chainID = "audit-test"
	ctx := context.Background()
	es := chained(10)
	head := HeadResponse{Height: 6, StateHash: make([]byte, 32), Head: ChainHead{Seq: 10, Hash: es[9].Hash}}
	tv := newTestValidators(4)
	good := fakeCommits{headers: map[int64]*cmttypes.SignedHeader{7: tv.signedHeader(t, chainID, 7, head.AppHash(), 4)}, vals: tv.set}

	a, err := VerifyAgainstCommit(ctx, good, chainID, head, CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a.SignedHeight != 7 || a.Validators != 4 || a.TotalPower != 40 {
		t.Fatalf("anchor %+v", a)
	}
	if _, err := VerifyAgainstCommit(ctx, good, chainID, head, CommitOptions{Trusted: tv.set}); err != nil {
		t.Fatal(err)
	}

	t.Run("audit head differs", func(t *testing.T) {
		h := head
		h.Head = ChainHead{Seq: 9, Hash: es[8].Hash} // a truncated chain
		if _, err := VerifyAgainstCommit(ctx, good, chainID, h, CommitOptions{}); !errors.Is(err, ErrAppHash) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("state hash differs", func(t *testing.T) {
		h := head
		h.StateHash = make([]byte, 32)
		h.StateHash[0] = 1
		if _, err := VerifyAgainstCommit(ctx, good, chainID, h, CommitOptions{}); !errors.Is(err, ErrAppHash) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("too few signatures", func(t *testing.T) {
		f := fakeCommits{headers: map[int64]*cmttypes.SignedHeader{7: tv.signedHeader(t, chainID, 7, head.AppHash(), 2)}, vals: tv.set}
		if _, err := VerifyAgainstCommit(ctx, f, chainID, head, CommitOptions{}); !errors.Is(err, ErrCommit) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("forged app hash in header", func(t *testing.T) {
		sh := tv.signedHeader(t, chainID, 7, head.AppHash(), 4)
		forged := *sh.Header
		forged.AppHash = make([]byte, 32)
		f := fakeCommits{headers: map[int64]*cmttypes.SignedHeader{7: {Header: &forged, Commit: sh.Commit}}, vals: tv.set}
		if _, err := VerifyAgainstCommit(ctx, f, chainID, head, CommitOptions{}); !errors.Is(err, ErrCommit) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("other chain", func(t *testing.T) {
		if _, err := VerifyAgainstCommit(ctx, good, "other-chain", head, CommitOptions{}); !errors.Is(err, ErrCommit) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("node lies about validators", func(t *testing.T) {
		// A node with its own validator set signs a header over the wrong
		// audit head; a verifier that trusts the real set rejects it.
		fake := newTestValidators(4)
		f := fakeCommits{headers: map[int64]*cmttypes.SignedHeader{7: fake.signedHeader(t, chainID, 7, head.AppHash(), 4)}, vals: fake.set}
		if _, err := VerifyAgainstCommit(ctx, f, chainID, head, CommitOptions{}); err != nil {
			t.Fatalf("self-consistent fake set without a trust root: %v", err)
		}
		_, err := VerifyAgainstCommit(ctx, f, chainID, head, CommitOptions{Trusted: tv.set, TrustLevel: cmtmath.Fraction{Numerator: 1, Denominator: 3}})
		if !errors.Is(err, ErrValidators) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("validator set not matching header", func(t *testing.T) {
		f := fakeCommits{headers: good.headers, vals: newTestValidators(4).set}
		if _, err := VerifyAgainstCommit(ctx, f, chainID, head, CommitOptions{}); !errors.Is(err, ErrValidators) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("next block missing", func(t *testing.T) {
		h := head
		h.Height = 7
		if _, err := VerifyAgainstCommit(ctx, good, chainID, h, CommitOptions{}); err == nil {
			t.Fatal("verified without a commit")
		}
	})
}
