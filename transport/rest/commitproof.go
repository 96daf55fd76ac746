package rest

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"time"

	"github.com/cometbft/cometbft/crypto/merkle"
	cmtbytes "github.com/cometbft/cometbft/libs/bytes"
	cmttypes "github.com/cometbft/cometbft/types"
	gogotypes "github.com/cosmos/gogoproto/types"

	"github.com/dstt/dstt/transport/api"
)

// headerLeaves are the leaves of CometBFT's Header.Hash, in its order and
// encoding (types.Header.Hash and its cdcEncode: empty values are empty
// leaves).
func headerLeaves(h *cmttypes.Header) ([][]byte, error) {
	version, err := h.Version.Marshal()
	if err != nil {
		return nil, err
	}
	tm, err := gogotypes.StdTimeMarshal(h.Time)
	if err != nil {
		return nil, err
	}
	lastID := h.LastBlockID.ToProto()
	last, err := lastID.Marshal()
	if err != nil {
		return nil, err
	}
	str := func(s string) []byte {
		if s == "" {
			return nil
		}
		b, _ := (&gogotypes.StringValue{Value: s}).Marshal()
		return b
	}
	i64 := func(v int64) []byte {
		if v == 0 {
			return nil
		}
		b, _ := (&gogotypes.Int64Value{Value: v}).Marshal()
		return b
	}
	hb := func(v cmtbytes.HexBytes) []byte {
		if len(v) == 0 {
			return nil
		}
		b, _ := (&gogotypes.BytesValue{Value: v}).Marshal()
		return b
	}
	return [][]byte{
		version, str(h.ChainID), i64(h.Height), tm, last,
		hb(h.LastCommitHash), hb(h.DataHash), hb(h.ValidatorsHash), hb(h.NextValidatorsHash),
		hb(h.ConsensusHash), hb(h.AppHash), hb(h.LastResultsHash), hb(h.EvidenceHash), hb(h.ProposerAddress),
	}, nil
}

// commitProof is the material for a client to check sh's commit against
// vals itself, or nil when the header's leaves do not hash to its hash
// (a CometBFT whose header encoding this code does not know).
func commitProof(sh *cmttypes.SignedHeader, vals *cmttypes.ValidatorSet) *api.CommitProof {
	leaves, err := headerLeaves(sh.Header)
	if err != nil || !bytes.Equal(merkle.HashFromByteSlices(leaves), sh.Hash()) {
		return nil
	}
	p := &api.CommitProof{
		Round: sh.Commit.Round, PartsTotal: sh.Commit.BlockID.PartSetHeader.Total,
		PartsHash: hex.EncodeToString(sh.Commit.BlockID.PartSetHeader.Hash),
	}
	for _, l := range leaves {
		p.HeaderLeaves = append(p.HeaderLeaves, base64.StdEncoding.EncodeToString(l))
	}
	for _, s := range sh.Commit.Signatures {
		cs := api.CommitSig{Flag: int(s.BlockIDFlag)}
		if s.BlockIDFlag != cmttypes.BlockIDFlagAbsent {
			cs.Address, cs.Signature = hex.EncodeToString(s.ValidatorAddress), base64.StdEncoding.EncodeToString(s.Signature)
			cs.Timestamp = s.Timestamp.UTC().Format(time.RFC3339Nano)
		}
		p.Signatures = append(p.Signatures, cs)
	}
	for _, v := range vals.Validators {
		p.Validators = append(p.Validators, api.ProofValidator{
			Address: hex.EncodeToString(v.Address), PubKey: base64.StdEncoding.EncodeToString(v.PubKey.Bytes()), Power: v.VotingPower,
		})
	}
	return p
}
