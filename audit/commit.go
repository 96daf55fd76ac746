package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	cmtmath "github.com/cometbft/cometbft/libs/math"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	cmttypes "github.com/cometbft/cometbft/types"
)

// Errors from VerifyAgainstCommit (wrapped; test with errors.Is).
var (
	ErrAppHash    = errors.New("audit: app hash signed by the validators does not match the audit head")
	ErrCommit     = errors.New("audit: commit does not verify against the validator set")
	ErrValidators = errors.New("audit: validator set not trusted")
)

// CommitFetcher fetches what VerifyAgainstCommit checks: the signed header
// (header + commit) of a block and the validator set that signed it.
// NewRPCCommitFetcher implements it over CometBFT RPC; tests use fakes.
type CommitFetcher interface {
	SignedHeader(ctx context.Context, height int64) (*cmttypes.SignedHeader, error)
	ValidatorSet(ctx context.Context, height int64) (*cmttypes.ValidatorSet, error)
}

// CommitRPC is the part of a CometBFT RPC client NewRPCCommitFetcher needs;
// rpcclient.Client satisfies it.
type CommitRPC interface {
	Commit(ctx context.Context, height *int64) (*ctypes.ResultCommit, error)
	Validators(ctx context.Context, height *int64, page, perPage *int) (*ctypes.ResultValidators, error)
}

type rpcCommitFetcher struct{ c CommitRPC }

// NewRPCCommitFetcher fetches commits and validator sets over RPC.
func NewRPCCommitFetcher(c CommitRPC) CommitFetcher { return rpcCommitFetcher{c: c} }

func (f rpcCommitFetcher) SignedHeader(ctx context.Context, height int64) (*cmttypes.SignedHeader, error) {
	res, err := f.c.Commit(ctx, &height)
	if err != nil {
		return nil, fmt.Errorf("audit: commit at height %d: %w", height, err)
	}
	// For the latest block the node returns the commit it saw (not yet the
	// canonical one from the next block): other signatures, equally valid.
	return &res.SignedHeader, nil
}

func (f rpcCommitFetcher) ValidatorSet(ctx context.Context, height int64) (*cmttypes.ValidatorSet, error) {
	const perPage = 100
	var vals []*cmttypes.Validator
	for page := 1; ; page++ {
		p, pp := page, perPage
		res, err := f.c.Validators(ctx, &height, &p, &pp)
		if err != nil {
			return nil, fmt.Errorf("audit: validators at height %d: %w", height, err)
		}
		vals = append(vals, res.Validators...)
		if len(vals) >= res.Total || len(res.Validators) == 0 {
			break
		}
	}
	vs := cmttypes.NewValidatorSet(vals)
	if err := vs.ValidateBasic(); err != nil {
		return nil, fmt.Errorf("audit: validators at height %d: %w", height, err)
	}
	return vs, nil
}

// CommitOptions set how far VerifyAgainstCommit trusts the validator set.
type CommitOptions struct {
	// Trusted is a validator set the verifier trusts independently of the
	// node (e.g. genesis validators, or a set recorded earlier). When it
	// differs from the set that signed, at least TrustLevel of Trusted's
	// voting power must also have signed the commit (the light client's
	// skipping rule). nil trusts the set the node reports, after checking it
	// against the header's validators hash.
	Trusted *cmttypes.ValidatorSet
	// TrustLevel defaults to 1/3.
	TrustLevel cmtmath.Fraction
}

// Anchor is a proved audit head: the validators whose signatures prove it
// and the app hash they signed.
type Anchor struct {
	Height         uint64 // the audit head is the state after this block
	Head           ChainHead
	AppHash        []byte // from the header of block Height+1
	SignedHeight   int64  // Height+1
	BlockHash      []byte
	ValidatorsHash []byte
	Validators     int
	TotalPower     int64
	TrustedBy      string // "trusted validator set" or "node-reported validator set"
}

// VerifyAgainstCommit proves head against the validators: it recomputes
// AppHash(head.StateHash, head.Head) and compares it with the app hash in
// the header of block head.Height+1, after checking that header's commit:
// the header hashes to the commit's block ID, the validator set hashes to
// the header's validators hash, and more than 2/3 of its voting power signed
// (types.ValidatorSet.VerifyCommitLight). See CommitOptions for trust.
func VerifyAgainstCommit(ctx context.Context, f CommitFetcher, chainID string, head HeadResponse, opts CommitOptions) (Anchor, error) {
	signed := int64(head.Height) + 1
	a := Anchor{Height: head.Height, Head: head.Head, SignedHeight: signed}
	sh, err := f.SignedHeader(ctx, signed)
	if err != nil {
		return a, err
	}
	if sh.Header == nil || sh.Commit == nil {
		return a, fmt.Errorf("%w: block %d has no header or commit", ErrCommit, signed)
	}
	if sh.Height != signed {
		return a, fmt.Errorf("%w: asked for block %d, got %d", ErrCommit, signed, sh.Height)
	}
	if err := sh.ValidateBasic(chainID); err != nil {
		return a, fmt.Errorf("%w: block %d: %v", ErrCommit, signed, err)
	}
	vals, err := f.ValidatorSet(ctx, signed)
	if err != nil {
		return a, err
	}
	if !bytes.Equal(vals.Hash(), sh.ValidatorsHash) {
		return a, fmt.Errorf("%w: the validator set hashes to %X, block %d's header says %X", ErrValidators, vals.Hash(), signed, sh.ValidatorsHash)
	}
	if err := vals.VerifyCommitLight(chainID, sh.Commit.BlockID, signed, sh.Commit); err != nil {
		return a, fmt.Errorf("%w: block %d: %v", ErrCommit, signed, err)
	}
	a.TrustedBy = "node-reported validator set"
	if opts.Trusted != nil {
		a.TrustedBy = "trusted validator set"
		if !bytes.Equal(opts.Trusted.Hash(), vals.Hash()) {
			level := opts.TrustLevel
			if level.Denominator == 0 {
				level = cmtmath.Fraction{Numerator: 1, Denominator: 3}
			}
			if err := opts.Trusted.VerifyCommitLightTrusting(chainID, sh.Commit, level); err != nil {
				return a, fmt.Errorf("%w: less than %d/%d of the trusted validators' power signed block %d: %v",
					ErrValidators, level.Numerator, level.Denominator, signed, err)
			}
		}
	}
	a.AppHash = append([]byte(nil), sh.AppHash...)
	a.BlockHash = sh.Commit.BlockID.Hash
	a.ValidatorsHash = vals.Hash()
	a.Validators = vals.Size()
	a.TotalPower = vals.TotalVotingPower()
	if want := head.AppHash(); !bytes.Equal(want, sh.AppHash) {
		return a, fmt.Errorf("%w: block %d signs app hash %X; state hash %X and audit head %s give %X",
			ErrAppHash, signed, []byte(sh.AppHash), head.StateHash, head.Head, want)
	}
	return a, nil
}
