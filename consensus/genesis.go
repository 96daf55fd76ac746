package consensus

import (
	"encoding/json"
	"fmt"
	"time"

	cmtjson "github.com/cometbft/cometbft/libs/json"
	"github.com/cometbft/cometbft/types"
)

const (
	// ValidatorPower is the voting power InitHome gives the local validator.
	ValidatorPower = 10

	// BlockMaxBytes caps a block at 8 MiB: a 10k-tx batch of ~200-byte txs (~2.1 MB with
	// framing) fits with room to spare, and proposals stay quick to gossip. CometBFT's
	// default (~53 MiB) budgets for 10,000 validators with post-quantum signatures;
	// 8 MiB leaves ~6.8 MiB of txs even with 100 validators (≈3.4 KB commit reserve
	// each) and 1 MiB of evidence. It must stay above ~1 MiB + 3.4 KB per validator,
	// or CometBFT panics building a block.
	BlockMaxBytes = 8 << 20

	// BlockMaxGas -1 means no gas limit: dstt does not meter gas.
	BlockMaxGas = -1
)

// ConsensusParams returns CometBFT's default consensus params with dstt's block limits
// (BlockMaxBytes, BlockMaxGas). Validators use ed25519 keys (the default).
func ConsensusParams() *types.ConsensusParams {
	p := types.DefaultConsensusParams()
	p.Block.MaxBytes = BlockMaxBytes
	p.Block.MaxGas = BlockMaxGas
	return p
}

// NewGenesis builds and validates a genesis document: chain id, genesis time (UTC, to the
// millisecond, so the file reads cleanly), validators, ConsensusParams() and app_state,
// which is opaque here (nil leaves it out; SaveAs re-indents it, and InitChain receives
// the bytes as they are in the file). Validator addresses are derived
// from their public keys.
func NewGenesis(chainID string, genesisTime time.Time, validators []types.GenesisValidator, appState json.RawMessage) (*types.GenesisDoc, error) {
	if len(validators) == 0 {
		return nil, fmt.Errorf("consensus: genesis needs at least one validator")
	}
	vals := make([]types.GenesisValidator, len(validators))
	for i, v := range validators {
		if v.PubKey == nil {
			return nil, fmt.Errorf("consensus: genesis validator %d (%q) has no public key", i, v.Name)
		}
		v.Address = v.PubKey.Address()
		vals[i] = v
	}
	gen := &types.GenesisDoc{
		GenesisTime:     genesisTime.UTC().Truncate(time.Millisecond),
		ChainID:         chainID,
		InitialHeight:   1,
		ConsensusParams: ConsensusParams(),
		Validators:      vals,
		AppState:        appState,
	}
	if err := gen.ValidateAndComplete(); err != nil {
		return nil, fmt.Errorf("consensus: invalid genesis: %w", err)
	}
	return gen, nil
}

// copyGenesis returns a validated deep copy of gen (through its JSON form, as the file
// will hold it), so that completing defaults never touches the caller's document.
func copyGenesis(gen *types.GenesisDoc) (*types.GenesisDoc, error) {
	data, err := cmtjson.Marshal(gen)
	if err != nil {
		return nil, fmt.Errorf("consensus: encoding genesis: %w", err)
	}
	out, err := types.GenesisDocFromJSON(data)
	if err != nil {
		return nil, fmt.Errorf("consensus: invalid genesis: %w", err)
	}
	return out, nil
}
