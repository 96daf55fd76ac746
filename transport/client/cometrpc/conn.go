package cometrpc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	rpcclient "github.com/cometbft/cometbft/rpc/client"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/transport/client"
	"github.com/dstt/dstt/types"
)

func init() {
	client.RegisterDialer("tcp", func(addr string) (client.Conn, error) { return dial(addr) })
}

// New connects to a node's CometBFT RPC address, e.g. tcp://127.0.0.1:26657.
// The RPC is an operator port (no authentication; loopback only on a chain
// with access control): applications use client.Connect or client.NewREST,
// the gateway.
func New(addr string, opts ...client.Option) (*client.Client, error) {
	c, err := dial(addr)
	if err != nil {
		return nil, err
	}
	return client.NewWithConn(c, addr, opts...), nil
}

// NewFromRPC wraps any CometBFT RPC client (e.g. the in-process one).
func NewFromRPC(c rpcclient.Client, opts ...client.Option) *client.Client {
	return client.NewWithConn(&conn{rpc: c, addr: "in-process"}, "in-process", opts...)
}

func dial(addr string) (*conn, error) {
	c, err := rpchttp.New(addr, "/websocket")
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", client.ErrUnreachable, addr, err)
	}
	return &conn{rpc: c, addr: addr, http: c}, nil
}

var _ client.Conn = (*conn)(nil)

// conn reaches a node through CometBFT's RPC (HTTP, or in-process).
type conn struct {
	rpc  rpcclient.Client
	addr string
	// http is set for a remote node: its websocket starts on the first
	// subscription.
	http   *rpchttp.HTTP
	wsOnce sync.Once
	wsErr  error
}

func (r *conn) ChainInfo(ctx context.Context) (client.ChainInfo, error) {
	st, err := r.rpc.Status(ctx)
	if err != nil {
		return client.ChainInfo{}, client.Unreachable(r.addr, err)
	}
	return client.ChainInfo{ChainID: st.NodeInfo.Network, LatestHeight: st.SyncInfo.LatestBlockHeight}, nil
}

// rpcBroadcastParallel bounds the concurrent broadcast calls of a batch.
const rpcBroadcastParallel = 16

func (r *conn) Broadcast(ctx context.Context, txs [][]byte, commit bool) ([]api.TxOutcome, error) {
	outs := make([]api.TxOutcome, len(txs))
	errs := make([]error, len(txs))
	sem := make(chan struct{}, rpcBroadcastParallel)
	var wg sync.WaitGroup
	for i, tx := range txs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			outs[i], errs[i] = r.broadcastOne(ctx, tx, commit)
		})
	}
	wg.Wait()
	return outs, errors.Join(errs...)
}

func (r *conn) broadcastOne(ctx context.Context, tx []byte, commit bool) (api.TxOutcome, error) {
	out := api.TxOutcome{Hash: types.TxHashHex(tx)}
	if !commit {
		res, err := r.rpc.BroadcastTxSync(ctx, tx)
		switch {
		case err != nil:
			return r.broadcastFailed(out, err)
		case res.Code != 0:
			out.Status, out.Code, out.CodeName, out.Log = api.StatusRejected, res.Code, types.Code(res.Code).Name(), res.Log
		default:
			out.Status, out.CodeName = api.StatusAdmitted, types.CodeOK.Name()
		}
		return out, nil
	}
	res, err := r.rpc.BroadcastTxCommit(ctx, tx)
	switch {
	case err != nil:
		return r.broadcastFailed(out, err)
	case res.CheckTx.Code != 0:
		out.Status, out.Code, out.CodeName, out.Log = api.StatusRejected, res.CheckTx.Code, types.Code(res.CheckTx.Code).Name(), res.CheckTx.Log
		return out, nil
	}
	out.Height, out.Code, out.Log = res.Height, res.TxResult.Code, res.TxResult.Log
	out.CodeName = types.Code(out.Code).Name()
	var rec types.TxResult
	if err := rec.Unmarshal(res.TxResult.Data); err == nil {
		out.Writes, out.Index = api.Writes(rec.Writes), rec.TxIndex
	}
	out.Status = api.StatusCommitted
	if out.Code != 0 {
		out.Status = api.StatusFailed
	}
	return out, nil
}

// broadcastFailed is the outcome of a broadcast the RPC refused: a tx
// already in the mempool's cache is a rejected replay; anything else means
// the node could not be reached.
func (r *conn) broadcastFailed(out api.TxOutcome, err error) (api.TxOutcome, error) {
	if strings.Contains(err.Error(), "already exists in cache") {
		out.Status, out.Code, out.CodeName, out.Log = api.StatusRejected, uint32(types.CodeReplay), types.CodeReplay.Name(), "tx is already in the mempool"
		return out, nil
	}
	return out, client.Unreachable(r.addr, err)
}

// query runs an ABCI query, wrapped in a SignedQuery when sr is set.
func (r *conn) query(ctx context.Context, path string, data []byte, height int64, sr *api.SignedRead) ([]byte, int64, error) {
	if sr != nil {
		sq := sr.Query(path, data, height)
		b, err := sq.Marshal()
		if err != nil {
			return nil, 0, err
		}
		path, data, height = types.QuerySigned, b, 0
	}
	res, err := r.rpc.ABCIQueryWithOptions(ctx, path, data, rpcclient.ABCIQueryOptions{Height: height})
	if err != nil {
		return nil, 0, client.Unreachable(r.addr, err)
	}
	q := res.Response
	switch types.Code(q.Code) {
	case types.CodeOK:
		return q.Value, q.Height, nil
	case types.CodeNotFound:
		return nil, q.Height, fmt.Errorf("%w: %s", client.ErrNotFound, q.Log)
	case types.CodeUnauthorized:
		return nil, q.Height, fmt.Errorf("%w: %s", client.ErrUnauthorized, q.Log)
	default:
		return nil, q.Height, fmt.Errorf("%w: %s", client.ErrQuery, q.Log)
	}
}

func (r *conn) Get(ctx context.Context, key string, height int64, sr *api.SignedRead) (types.KV, int64, error) {
	val, h, err := r.query(ctx, types.QueryGet, []byte(key), height, sr)
	if err != nil {
		return types.KV{}, h, err
	}
	kv, err := decodeAnswer[types.KV](val)
	return kv, h, err
}

func (r *conn) History(ctx context.Context, req types.HistoryRequest, sr *api.SignedRead) (types.History, error) {
	data, err := req.Marshal()
	if err != nil {
		return types.History{}, err
	}
	val, _, err := r.query(ctx, types.QueryHistory, data, 0, sr)
	if err != nil {
		return types.History{}, err
	}
	return decodeAnswer[types.History](val)
}

func (r *conn) Tx(ctx context.Context, hash []byte, sr *api.SignedRead) (types.TxResult, error) {
	val, _, err := r.query(ctx, types.QueryTx, hash, 0, sr)
	if err != nil {
		return types.TxResult{}, err
	}
	return decodeAnswer[types.TxResult](val)
}

// decodeAnswer decodes a query's answer; a bad answer is an ErrQuery and
// the zero T.
func decodeAnswer[T any, P interface {
	*T
	Unmarshal([]byte) error
}](val []byte) (T, error) {
	var out T
	if err := P(&out).Unmarshal(val); err != nil {
		var zero T
		return zero, fmt.Errorf("%w: decode answer: %v", client.ErrQuery, err)
	}
	return out, nil
}

func (r *conn) Raw(ctx context.Context, path string, data []byte, sr *api.SignedRead) ([]byte, error) {
	val, _, err := r.query(ctx, path, data, 0, sr)
	return val, err
}

func (r *conn) Close() error {
	if r.http != nil && r.http.IsRunning() {
		return r.http.Stop()
	}
	return nil
}

// subscribe follows NewBlock events over CometBFT RPC, reading blocks it
// missed (or that come before the resume point) from the node's store.
func (r *conn) Subscribe(ctx context.Context, prefix string, from *api.EventID, _ func() (*api.SignedRead, error), sink client.Sink) error {
	if r.http != nil {
		r.wsOnce.Do(func() {
			if !r.http.IsRunning() {
				r.wsErr = r.http.Start()
			}
		})
		if r.wsErr != nil {
			return client.Unreachable(r.addr, r.wsErr)
		}
	}
	name := fmt.Sprintf("dstt-client-%d", subscriberSeq.Add(1))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := r.rpc.Subscribe(ctx, name, cmttypes.EventQueryNewBlock.String(), 256)
	if err != nil {
		return client.Unreachable(r.addr, err)
	}
	defer func() { _ = r.rpc.UnsubscribeAll(context.Background(), name) }()
	sink.Ready()
	var last int64 = -1
	if from != nil {
		last = from.Height - 1
	}
	deliver := func(height int64, evs []api.WriteEvent) error {
		for i := range evs {
			ev := &evs[i]
			if !strings.HasPrefix(ev.Key, prefix) {
				continue
			}
			pos := api.EventID{Height: ev.Height, TxIndex: ev.TxIndex, Write: ev.WriteIndex}
			if from != nil && !from.Less(pos) {
				continue
			}
			if err := sink.Emit(ev, pos); err != nil {
				return err
			}
		}
		last = height
		return sink.Emit(nil, api.Checkpoint(height))
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case msg, ok := <-ch:
			if !ok {
				return fmt.Errorf("%w: the node closed the block subscription", client.ErrStreamEnded)
			}
			nb, ok := msg.Data.(cmttypes.EventDataNewBlock)
			if !ok || nb.Block == nil {
				continue
			}
			h := nb.Block.Height
			if last >= 0 {
				for gap := last + 1; gap < h; gap++ {
					evs, err := r.loadWrites(ctx, gap)
					if err != nil {
						return err
					}
					if err := deliver(gap, evs); err != nil {
						return err
					}
				}
			}
			if h <= last {
				continue
			}
			if err := deliver(h, api.BlockWrites(h, nb.Block.Time, nb.Block.Txs.ToSliceOfBytes(), nb.ResultFinalizeBlock.TxResults)); err != nil {
				return err
			}
		}
	}
}

func (r *conn) loadWrites(ctx context.Context, height int64) ([]api.WriteEvent, error) {
	b, err := r.rpc.Block(ctx, &height)
	if err != nil {
		return nil, client.Unreachable(r.addr, err)
	}
	res, err := r.rpc.BlockResults(ctx, &height)
	if err != nil {
		return nil, client.Unreachable(r.addr, err)
	}
	return api.BlockWrites(height, b.Block.Time, b.Block.Txs.ToSliceOfBytes(), res.TxsResults), nil
}

var subscriberSeq atomic.Uint64
