package rest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	mempl "github.com/cometbft/cometbft/mempool"
	nm "github.com/cometbft/cometbft/node"
	rpcclient "github.com/cometbft/cometbft/rpc/client"
	cmttypes "github.com/cometbft/cometbft/types"
)

// CometBackend is the Backend of an in-process CometBFT node: txs go
// straight into its mempool, blocks come from its event bus and block
// store, queries and status through its in-process RPC client.
type CometBackend struct {
	node *nm.Node
	rpc  rpcclient.Client
}

var _ Backend = (*CometBackend)(nil)

// subscriberSeq makes event-bus subscriber names unique.
var subscriberSeq atomic.Uint64

// NewCometBackend wraps node; rpc is its in-process client
// (consensus.Node.Client()). The node's event bus runs from construction,
// so the gateway may start before the node does.
func NewCometBackend(node *nm.Node, rpc rpcclient.Client) *CometBackend {
	return &CometBackend{node: node, rpc: rpc}
}

// ChainID implements Backend.
func (b *CometBackend) ChainID() string { return b.node.GenesisDoc().ChainID }

// CheckTx implements Backend.
func (b *CometBackend) CheckTx(tx []byte, cb func(*abcitypes.ResponseCheckTx)) error {
	if r, ok := b.node.MempoolReactor().(interface{ WaitSync() bool }); ok && r.WaitSync() {
		return ErrNotReady
	}
	err := b.node.Mempool().CheckTx(tx, cb, mempl.TxInfo{})
	if err == nil {
		return nil
	}
	var full mempl.ErrMempoolIsFull
	var large mempl.ErrTxTooLarge
	switch {
	case errors.Is(err, mempl.ErrTxInCache):
		return ErrTxInCache
	case errors.As(err, &full), errors.Is(err, mempl.ErrRecheckFull):
		return fmt.Errorf("%w: %v", ErrMempoolFull, err)
	case errors.As(err, &large):
		return fmt.Errorf("%w: %v", ErrTxTooLarge, err)
	}
	return err
}

// MempoolSize implements Backend.
func (b *CometBackend) MempoolSize() (int, int64) {
	m := b.node.Mempool()
	return m.Size(), m.SizeBytes()
}

// Query implements Backend. It asks the application through the node's
// query connection, as CometBFT's RPC does, but with ctx, which carries
// the REST client's address (ClientEndpoint) to the application's hooks.
func (b *CometBackend) Query(ctx context.Context, path string, data []byte, height int64) (*abcitypes.ResponseQuery, error) {
	return b.node.ProxyApp().Query().Query(ctx, &abcitypes.RequestQuery{Path: path, Data: data, Height: height})
}

// CommittedHeight implements Backend.
func (b *CometBackend) CommittedHeight(ctx context.Context) (int64, error) {
	info, err := b.rpc.ABCIInfo(ctx)
	if err != nil {
		return 0, err
	}
	return info.Response.LastBlockHeight, nil
}

// blockSubscriptionCapacity is how many blocks the event bus holds for the
// gateway before it drops the subscription (the gateway then resubscribes
// and reads the missed blocks from the store).
const blockSubscriptionCapacity = 256

// SubscribeBlocks implements Backend.
func (b *CometBackend) SubscribeBlocks(ctx context.Context) (<-chan Block, error) {
	name := fmt.Sprintf("dstt-rest-%d", subscriberSeq.Add(1))
	bus := b.node.EventBus()
	sub, err := bus.Subscribe(ctx, name, cmttypes.EventQueryNewBlock, blockSubscriptionCapacity)
	if err != nil {
		return nil, fmt.Errorf("rest: subscribe to blocks: %w", err)
	}
	out := make(chan Block, 16)
	go func() {
		defer close(out)
		defer func() { _ = bus.UnsubscribeAll(context.Background(), name) }()
		for {
			select {
			case <-ctx.Done():
				return
			case <-sub.Canceled():
				return
			case msg := <-sub.Out():
				ev, ok := msg.Data().(cmttypes.EventDataNewBlock)
				if !ok || ev.Block == nil {
					continue
				}
				blk := Block{
					Height:  ev.Block.Height,
					Time:    ev.Block.Time,
					Txs:     ev.Block.Txs.ToSliceOfBytes(),
					Results: ev.ResultFinalizeBlock.TxResults,
				}
				select {
				case out <- blk:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// LoadBlock implements Backend.
func (b *CometBackend) LoadBlock(ctx context.Context, height int64) (Block, error) {
	blk, err := b.rpc.Block(ctx, &height)
	if err != nil {
		return Block{}, fmt.Errorf("rest: load block %d: %w", height, err)
	}
	res, err := b.rpc.BlockResults(ctx, &height)
	if err != nil {
		return Block{}, fmt.Errorf("rest: load results of block %d: %w", height, err)
	}
	if blk.Block == nil {
		return Block{}, fmt.Errorf("rest: block %d not in the store", height)
	}
	return Block{Height: height, Time: blk.Block.Time, Txs: blk.Block.Txs.ToSliceOfBytes(), Results: res.TxsResults}, nil
}

// Status implements Backend.
func (b *CometBackend) Status(ctx context.Context) (NodeStatus, error) {
	st, err := b.rpc.Status(ctx)
	if err != nil {
		return NodeStatus{}, err
	}
	ns := NodeStatus{
		LatestHeight:    st.SyncInfo.LatestBlockHeight,
		EarliestHeight:  st.SyncInfo.EarliestBlockHeight,
		LatestBlockTime: st.SyncInfo.LatestBlockTime,
		CatchingUp:      st.SyncInfo.CatchingUp,
	}
	if sw := b.node.Switch(); sw != nil {
		out, in, _ := sw.NumPeers()
		ns.Peers = out + in
	}
	return ns, nil
}
