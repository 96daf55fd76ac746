package chainstate

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	cfg "github.com/cometbft/cometbft/config"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	sm "github.com/cometbft/cometbft/state"
	"github.com/cometbft/cometbft/store"
	"github.com/cometbft/cometbft/types"
)

// ErrRefused: an Anchor does not check out (the message says why).
var ErrRefused = errors.New("chainstate: refused")

// Anchor is CometBFT's chain at height H, enough to start a node there.
type Anchor struct {
	// Last is header H with the commit of H (block H+1's last commit).
	Last *types.SignedHeader
	// Current is header H+1 with a commit of H+1: its AppHash is the app
	// hash of H.
	Current *types.SignedHeader
	// LastValidators, Validators and NextValidators are the validator
	// sets of H, H+1 and H+2.
	LastValidators, Validators, NextValidators *types.ValidatorSet
	// Params are the consensus params of H+1.
	Params types.ConsensusParams
}

// Height is H.
func (a *Anchor) Height() int64 { return a.Last.Height }

// Read reads the Anchor of height from the stores of a stopped node whose
// config is c: the block store must hold blocks height and height+1.
func Read(c *cfg.Config, height int64) (a *Anchor, err error) {
	bs, ss, closeDBs, err := openStores(c)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, closeDBs()) }()
	a = &Anchor{}
	for _, sh := range []struct {
		h   int64
		dst **types.SignedHeader
	}{{height, &a.Last}, {height + 1, &a.Current}} {
		meta := bs.LoadBlockMeta(sh.h)
		if meta == nil {
			return nil, fmt.Errorf("chainstate: no block %d in the block store (it holds %d-%d)", sh.h, bs.Base(), bs.Height())
		}
		commit := bs.LoadBlockCommit(sh.h)
		if commit == nil {
			commit = bs.LoadSeenCommit(sh.h)
		}
		if commit == nil {
			return nil, fmt.Errorf("chainstate: no commit for block %d", sh.h)
		}
		*sh.dst = &types.SignedHeader{Header: &meta.Header, Commit: commit}
	}
	for i, dst := range []**types.ValidatorSet{&a.LastValidators, &a.Validators, &a.NextValidators} {
		if *dst, err = ss.LoadValidators(height + int64(i)); err != nil {
			return nil, fmt.Errorf("chainstate: validators of height %d: %w", height+int64(i), err)
		}
	}
	if a.Params, err = ss.LoadConsensusParams(height + 1); err != nil {
		return nil, fmt.Errorf("chainstate: consensus params of height %d: %w", height+1, err)
	}
	return a, nil
}

// openStores opens CometBFT's block store and state store of c, as the
// node does (the same database names and backend).
func openStores(c *cfg.Config) (*store.BlockStore, sm.Store, func() error, error) {
	blockDB, err := cfg.DefaultDBProvider(&cfg.DBContext{ID: "blockstore", Config: c})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("chainstate: open the block store (is the node running? stop it first): %w", err)
	}
	stateDB, err := cfg.DefaultDBProvider(&cfg.DBContext{ID: "state", Config: c})
	if err != nil {
		return nil, nil, nil, errors.Join(fmt.Errorf("chainstate: open the state store: %w", err), blockDB.Close())
	}
	ss := sm.NewStore(stateDB, sm.StoreOptions{DiscardABCIResponses: c.Storage.DiscardABCIResponses})
	return store.NewBlockStore(blockDB), ss, func() error { return errors.Join(ss.Close(), blockDB.Close()) }, nil
}

// Encode is the canonical form of a: six length-prefixed protobuf
// messages (CometBFT's own encoding): the signed headers of H and H+1,
// the validator sets of H, H+1 and H+2, the consensus params.
func (a *Anchor) Encode() ([]byte, error) {
	msgs := make([][]byte, 0, 6)
	for _, m := range a.protos() {
		b, err := m.Marshal()
		if err != nil {
			return nil, fmt.Errorf("chainstate: encode: %w", err)
		}
		msgs = append(msgs, b)
	}
	var out []byte
	for _, b := range msgs {
		out = append(binary.AppendUvarint(out, uint64(len(b))), b...)
	}
	return out, nil
}

type marshaler interface{ Marshal() ([]byte, error) }

func (a *Anchor) protos() []marshaler {
	out := []marshaler{a.Last.ToProto(), a.Current.ToProto()}
	for _, v := range []*types.ValidatorSet{a.LastValidators, a.Validators, a.NextValidators} {
		pv, err := v.ToProto()
		if err != nil {
			pv = &cmtproto.ValidatorSet{}
		}
		out = append(out, pv)
	}
	p := a.Params.ToProto()
	return append(out, &p)
}

// Decode reverses Encode. Only the canonical form is accepted: bytes that
// decode to the same values but encode differently are refused.
func Decode(b []byte) (*Anchor, error) {
	in := b
	var fields [6][]byte
	for i := range fields {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, fmt.Errorf("%w: chain state: truncated", ErrRefused)
		}
		fields[i], b = b[k:k+int(n)], b[k+int(n):]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: chain state: trailing bytes", ErrRefused)
	}
	a, err := decodeFields(fields)
	if err != nil {
		return nil, fmt.Errorf("%w: chain state: %v", ErrRefused, err)
	}
	if again, err := a.Encode(); err != nil || !bytes.Equal(again, in) {
		return nil, fmt.Errorf("%w: chain state: not in canonical form (changed bytes)", ErrRefused)
	}
	return a, nil
}

func decodeFields(f [6][]byte) (*Anchor, error) {
	a := &Anchor{}
	for i, dst := range []**types.SignedHeader{&a.Last, &a.Current} {
		var p cmtproto.SignedHeader
		if err := p.Unmarshal(f[i]); err != nil {
			return nil, err
		}
		sh, err := types.SignedHeaderFromProto(&p)
		if err != nil {
			return nil, err
		}
		if sh.Header == nil || sh.Commit == nil {
			return nil, errors.New("a signed header without header or commit")
		}
		*dst = sh
	}
	for i, dst := range []**types.ValidatorSet{&a.LastValidators, &a.Validators, &a.NextValidators} {
		var p cmtproto.ValidatorSet
		if err := p.Unmarshal(f[2+i]); err != nil {
			return nil, err
		}
		v, err := types.ValidatorSetFromProto(&p)
		if err != nil {
			return nil, err
		}
		*dst = v
	}
	var p cmtproto.ConsensusParams
	if err := p.Unmarshal(f[5]); err != nil {
		return nil, err
	}
	a.Params = types.ConsensusParamsFromProto(p)
	return a, nil
}
