package chainstate

import (
	"bytes"
	"fmt"

	cmtmath "github.com/cometbft/cometbft/libs/math"
	"github.com/cometbft/cometbft/types"
)

// Trust is a header hash the operator trusts (from a node they trust: its
// CometBFT RPC /commit?height=HEIGHT gives it), for a chain whose
// validator set has changed since genesis. The zero Trust means: trust the
// genesis validators.
type Trust struct {
	Height int64
	Hash   []byte
}

// genesisTrustLevel: more than 2/3 of the genesis validators' power must
// have signed the commit of H+1 when no header hash is trusted.
var genesisTrustLevel = cmtmath.Fraction{Numerator: 2, Denominator: 3}

// Verify checks a (see the package doc) and returns the app hash of H
// that the validators signed. Anything else is ErrRefused with the reason.
func (a *Anchor) Verify(gen *types.GenesisDoc, trust Trust) ([]byte, error) {
	if err := a.verifyLinks(gen.ChainID); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRefused, err)
	}
	if err := a.verifyTrust(gen, trust); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRefused, err)
	}
	return a.Current.AppHash, nil
}

// verifyLinks checks that the headers, commits, validator sets and params
// of a hang together and that both commits carry >2/3 of their sets.
func (a *Anchor) verifyLinks(chainID string) error {
	h := a.Last.Height
	switch {
	case h < 1 || a.Current.Height != h+1:
		return fmt.Errorf("headers of heights %d and %d, want H and H+1", h, a.Current.Height)
	}
	for _, sh := range []*types.SignedHeader{a.Last, a.Current} {
		if err := sh.ValidateBasic(chainID); err != nil {
			return fmt.Errorf("header %d: %v", sh.Height, err)
		}
	}
	if !a.Current.LastBlockID.Equals(a.Last.Commit.BlockID) {
		return fmt.Errorf("header %d does not follow header %d", h+1, h)
	}
	if !bytes.Equal(a.Current.LastCommitHash, a.Last.Commit.Hash()) {
		return fmt.Errorf("the commit of %d is not the one header %d carries", h, h+1)
	}
	for _, v := range []struct {
		name string
		set  *types.ValidatorSet
		want []byte
	}{
		{fmt.Sprint("validators of ", h), a.LastValidators, a.Last.ValidatorsHash},
		{fmt.Sprint("validators of ", h+1), a.Validators, a.Current.ValidatorsHash},
		{fmt.Sprint("validators of ", h+2), a.NextValidators, a.Current.NextValidatorsHash},
	} {
		if err := v.set.ValidateBasic(); err != nil {
			return fmt.Errorf("%s: %v", v.name, err)
		}
		if !bytes.Equal(v.set.Hash(), v.want) {
			return fmt.Errorf("%s: hash %X, the header carries %X", v.name, v.set.Hash(), v.want)
		}
	}
	if err := a.Params.ValidateBasic(); err != nil {
		return fmt.Errorf("consensus params: %v", err)
	}
	if !bytes.Equal(a.Params.Hash(), a.Current.ConsensusHash) {
		return fmt.Errorf("consensus params: hash %X, header %d carries %X", a.Params.Hash(), h+1, a.Current.ConsensusHash)
	}
	// Every signature, not only enough of them: no byte of a commit goes
	// unchecked.
	if err := a.LastValidators.VerifyCommit(chainID, a.Last.Commit.BlockID, h, a.Last.Commit); err != nil {
		return fmt.Errorf("the commit of %d: %v", h, err)
	}
	if err := a.Validators.VerifyCommit(chainID, a.Current.Commit.BlockID, h+1, a.Current.Commit); err != nil {
		return fmt.Errorf("the commit of %d: %v", h+1, err)
	}
	return nil
}

// verifyTrust roots the commit of H+1 in the operator's trusted hash or
// in the genesis validators.
func (a *Anchor) verifyTrust(gen *types.GenesisDoc, trust Trust) error {
	if trust.Height != 0 {
		for _, sh := range []*types.SignedHeader{a.Last, a.Current} {
			if sh.Height != trust.Height {
				continue
			}
			if !bytes.Equal(sh.Hash(), trust.Hash) {
				return fmt.Errorf("header %d has hash %X, the trusted hash is %X", sh.Height, sh.Hash(), trust.Hash)
			}
			return nil
		}
		return fmt.Errorf("the trusted height %d is not %d or %d, the heights this backup carries", trust.Height, a.Last.Height, a.Current.Height)
	}
	vals := make([]*types.Validator, len(gen.Validators))
	for i, v := range gen.Validators {
		vals[i] = types.NewValidator(v.PubKey, v.Power)
	}
	if len(vals) == 0 {
		return fmt.Errorf("the genesis names no validators: give a trusted header hash")
	}
	set := types.NewValidatorSet(vals)
	if err := set.VerifyCommitLightTrustingAllSignatures(gen.ChainID, a.Current.Commit, genesisTrustLevel); err != nil {
		return fmt.Errorf("the commit of %d is not signed by more than 2/3 of the genesis validators (%v); if the validator set has changed since genesis, give the hash of header %d from a node you trust", a.Current.Height, err, a.Current.Height)
	}
	return nil
}
