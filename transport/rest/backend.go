package rest

import (
	"context"
	"errors"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/dstt/dstt/security/verify"
)

// Errors a Backend's CheckTx returns when the mempool refuses a tx before
// the application sees it.
var (
	ErrTxInCache   = errors.New("rest: tx already in the mempool cache")
	ErrMempoolFull = errors.New("rest: mempool is full")
	ErrTxTooLarge  = errors.New("rest: tx is larger than the mempool accepts")
	ErrNotReady    = errors.New("rest: node is not ready (catching up or stopped)")
)

// Backend is what the gateway needs from the node it runs in. CometBackend
// implements it over an in-process CometBFT node. Every method is safe for
// concurrent use.
type Backend interface {
	// ChainID is the chain's id from genesis.
	ChainID() string
	// CheckTx hands tx to the mempool in-process. cb receives CheckTx's
	// answer (before CheckTx returns, or later). An error means the mempool
	// refused the tx before the application saw it: ErrTxInCache,
	// ErrMempoolFull, ErrTxTooLarge, ErrNotReady, or another fault.
	CheckTx(tx []byte, cb func(*abcitypes.ResponseCheckTx)) error
	// MempoolSize is the number of txs and bytes in the mempool.
	MempoolSize() (txs int, bytes int64)
	// Query runs an ABCI query at height (0 = latest).
	Query(ctx context.Context, path string, data []byte, height int64) (*abcitypes.ResponseQuery, error)
	// CommittedHeight is the last height the application committed.
	CommittedHeight(ctx context.Context) (int64, error)
	// SubscribeBlocks streams committed blocks, in order, from the next
	// one on. The channel closes when ctx ends or the subscription breaks
	// (the caller resubscribes and fills any gap with LoadBlock).
	SubscribeBlocks(ctx context.Context) (<-chan Block, error)
	// LoadBlock reads a committed block and its results from the node's
	// stores.
	LoadBlock(ctx context.Context, height int64) (Block, error)
	// Status reports the node's view of the chain.
	Status(ctx context.Context) (NodeStatus, error)
}

// Verifier checks signatures in bulk; engine.CachedVerifier is one. Given the
// node's own verifier, the gateway verifies each submitted batch in parallel
// before CheckTx, which then finds the signatures in the cache.
type Verifier interface {
	VerifyBatch(items []verify.Item) []bool
}

// Block is a committed block: its txs and their FinalizeBlock results.
type Block struct {
	Height  int64
	Time    time.Time
	Txs     [][]byte
	Results []*abcitypes.ExecTxResult
}

// NodeStatus is the node's view of the chain.
type NodeStatus struct {
	LatestHeight int64
	// EarliestHeight is the lowest block the node's store holds: above 1
	// after a state sync, a backup restore or block pruning (0 = unknown).
	EarliestHeight  int64
	LatestBlockTime time.Time
	CatchingUp      bool
	Peers           int
}
