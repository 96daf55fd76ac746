package abci

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/dstt/dstt/types"
)

// Params are the chain's transaction rules. They come from the genesis
// app_state, are stored in replicated state at height 0, and are the same on
// every validator. A zero field means "the default".
type Params struct {
	// MaxTxBytes bounds the encoded tx envelope.
	MaxTxBytes uint32 `json:"max_tx_bytes,omitempty"`
	// MaxOps bounds the number of ops in one tx.
	MaxOps uint32 `json:"max_ops_per_tx,omitempty"`
	// MaxKeyBytes bounds a key's length in bytes.
	MaxKeyBytes uint32 `json:"max_key_bytes,omitempty"`
	// MaxValueBytes bounds one value.
	MaxValueBytes uint32 `json:"max_value_bytes,omitempty"`
	// MaxSignatures bounds the signatures on one tx.
	MaxSignatures uint32 `json:"max_signatures,omitempty"`
	// MaxMemoBytes bounds the memo.
	MaxMemoBytes uint32 `json:"max_memo_bytes,omitempty"`
	// TxWindow is the replay window in blocks: a tx committed at height H
	// must have H <= valid_until_height <= H + TxWindow.
	TxWindow uint64 `json:"tx_window,omitempty"`
}

// DefaultParams are the rules a chain gets when genesis says nothing.
func DefaultParams() Params {
	return Params{
		MaxTxBytes:    1 << 20,
		MaxOps:        1024,
		MaxKeyBytes:   512,
		MaxValueBytes: 512 << 10,
		MaxSignatures: 16,
		MaxMemoBytes:  256,
		TxWindow:      1000,
	}
}

// Limits are the size rules of the stateless tx check (types.ValidateTx).
func (p Params) Limits() types.Limits {
	return types.Limits{
		MaxTxBytes: p.MaxTxBytes, MaxOps: p.MaxOps, MaxKeyBytes: p.MaxKeyBytes,
		MaxValueBytes: p.MaxValueBytes, MaxSignatures: p.MaxSignatures, MaxMemoBytes: p.MaxMemoBytes,
	}
}

// withDefaults fills zero fields from DefaultParams.
func (p Params) withDefaults() Params {
	d := DefaultParams()
	if p.MaxTxBytes == 0 {
		p.MaxTxBytes = d.MaxTxBytes
	}
	if p.MaxOps == 0 {
		p.MaxOps = d.MaxOps
	}
	if p.MaxKeyBytes == 0 {
		p.MaxKeyBytes = d.MaxKeyBytes
	}
	if p.MaxValueBytes == 0 {
		p.MaxValueBytes = d.MaxValueBytes
	}
	if p.MaxSignatures == 0 {
		p.MaxSignatures = d.MaxSignatures
	}
	if p.MaxMemoBytes == 0 {
		p.MaxMemoBytes = d.MaxMemoBytes
	}
	if p.TxWindow == 0 {
		p.TxWindow = d.TxWindow
	}
	return p
}

// ErrBadParams is returned for genesis params that cannot work.
var ErrBadParams = errors.New("abci: invalid params")

// Validate reports every problem with p at once.
func (p Params) Validate() error {
	var probs []string
	if p.MaxTxBytes < 256 {
		probs = append(probs, fmt.Sprintf("max_tx_bytes=%d is below 256", p.MaxTxBytes))
	}
	if p.MaxKeyBytes > 4096 {
		probs = append(probs, fmt.Sprintf("max_key_bytes=%d is above 4096", p.MaxKeyBytes))
	}
	if p.MaxValueBytes > p.MaxTxBytes {
		probs = append(probs, fmt.Sprintf("max_value_bytes=%d is above max_tx_bytes=%d", p.MaxValueBytes, p.MaxTxBytes))
	}
	if p.TxWindow > 1_000_000 {
		probs = append(probs, fmt.Sprintf("tx_window=%d is above 1000000", p.TxWindow))
	}
	if p.MaxSignatures > 256 {
		probs = append(probs, fmt.Sprintf("max_signatures=%d is above 256", p.MaxSignatures))
	}
	if len(probs) > 0 {
		return fmt.Errorf("%w: %s", ErrBadParams, strings.Join(probs, "; "))
	}
	return nil
}

// GenesisState is the app_state of a dstt genesis file.
type GenesisState struct {
	Params Params `json:"params"`
	// Admins are the addresses (types.Address) that hold admin rights
	// over every domain from genesis: the RBAC bootstrap.
	Admins []string `json:"admins,omitempty"`
	// Orgs are the consortium's member organisations.
	Orgs []Org `json:"orgs,omitempty"`
	// Threshold is k in k-of-n: a governance tx needs signatures from
	// admins of k distinct orgs. 0 means a majority of the orgs.
	Threshold uint32 `json:"threshold,omitempty"`
}

// Org is a consortium member organisation.
type Org struct {
	ID string `json:"id"`
	// Admins are the addresses of the org's admin keys.
	Admins []string `json:"admins"`
	// Validators are the hex ed25519 public keys of the org's validators.
	Validators []string `json:"validators,omitempty"`
}

// DefaultGenesisState is what `dstt init` writes.
func DefaultGenesisState() GenesisState {
	return GenesisState{Params: DefaultParams()}
}

// DecodeGenesisState parses app_state. Empty input means the defaults.
func DecodeGenesisState(appState []byte) (GenesisState, error) {
	var g GenesisState
	if s := strings.TrimSpace(string(appState)); s != "" && s != "null" {
		dec := json.NewDecoder(strings.NewReader(s))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&g); err != nil {
			return g, fmt.Errorf("%w: app_state: %v", ErrBadParams, err)
		}
	}
	g.Params = g.Params.withDefaults()
	return g, g.Params.Validate()
}
