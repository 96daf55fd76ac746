package types

import (
	"cmp"
	"errors"
	"fmt"
	"strings"
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
	// RetainHeights and RetainSeconds are the retention rule: old versions
	// of keys are kept for the last RetainHeights heights and for the last
	// RetainSeconds of block time (both set: a version is kept while either
	// rule wants it); older ones are pruned at commit, on every validator
	// alike. Zero in both (the default) keeps every version. The latest
	// value of every key and the audit chain are never pruned. Changed
	// later by the governance op SetRetention.
	RetainHeights uint64 `json:"retain_heights,omitempty"`
	RetainSeconds uint64 `json:"retain_seconds,omitempty"`
	// SnapshotInterval turns on state snapshots: the first block that
	// writes state at least this many heights after the last snapshot
	// height folds a digest of the whole state into its state hash, so the
	// app hash the validators sign covers the state at that height and a
	// snapshot of it (a backup, state sync) can be verified. 0: none; at
	// most MaxSnapshotInterval. Changed later by the governance op
	// SetSnapshotInterval.
	SnapshotInterval uint64 `json:"snapshot_interval,omitempty"`
}

// Retains reports whether the retention rule prunes anything.
func (p Params) Retains() bool { return p.RetainHeights > 0 || p.RetainSeconds > 0 }

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

// Limits are the size rules of the stateless tx check (ValidateTx).
func (p Params) Limits() Limits {
	return Limits{
		MaxTxBytes: p.MaxTxBytes, MaxOps: p.MaxOps, MaxKeyBytes: p.MaxKeyBytes,
		MaxValueBytes: p.MaxValueBytes, MaxSignatures: p.MaxSignatures, MaxMemoBytes: p.MaxMemoBytes,
	}
}

// WithDefaults fills zero fields from DefaultParams.
func (p Params) WithDefaults() Params {
	d := DefaultParams()
	p.MaxTxBytes = cmp.Or(p.MaxTxBytes, d.MaxTxBytes)
	p.MaxOps = cmp.Or(p.MaxOps, d.MaxOps)
	p.MaxKeyBytes = cmp.Or(p.MaxKeyBytes, d.MaxKeyBytes)
	p.MaxValueBytes = cmp.Or(p.MaxValueBytes, d.MaxValueBytes)
	p.MaxSignatures = cmp.Or(p.MaxSignatures, d.MaxSignatures)
	p.MaxMemoBytes = cmp.Or(p.MaxMemoBytes, d.MaxMemoBytes)
	p.TxWindow = cmp.Or(p.TxWindow, d.TxWindow)
	return p
}

// ErrBadParams is returned for genesis params that cannot work.
var ErrBadParams = errors.New("types: invalid params")

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
	if c, msg := checkSnapshotInterval(p.SnapshotInterval); c != CodeOK {
		probs = append(probs, msg)
	}
	if len(probs) > 0 {
		return fmt.Errorf("%w: %s", ErrBadParams, strings.Join(probs, "; "))
	}
	return nil
}

// ChainInfo is the answer to QueryParams.
type ChainInfo struct {
	ChainID string `json:"chain_id"`
	Params  Params `json:"params"`
	// Open: genesis named no admins, so access control is off.
	Open bool `json:"open,omitempty"`
}
