package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	rpcclient "github.com/cometbft/cometbft/rpc/client"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"

	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/types"
)

// rpcConn reaches a node through CometBFT's RPC (HTTP, or in-process).
type rpcConn struct {
	rpc  rpcclient.Client
	addr string
	// http is set for a remote node: its websocket starts on the first
	// subscription.
	http   *rpchttp.HTTP
	wsOnce sync.Once
	wsErr  error
}

func (r *rpcConn) chainInfo(ctx context.Context) (ChainInfo, error) {
	st, err := r.rpc.Status(ctx)
	if err != nil {
		return ChainInfo{}, unreachable(r.addr, err)
	}
	return ChainInfo{ChainID: st.NodeInfo.Network, LatestHeight: st.SyncInfo.LatestBlockHeight}, nil
}

// rpcBroadcastParallel bounds the concurrent broadcast calls of a batch.
const rpcBroadcastParallel = 16

func (r *rpcConn) broadcast(ctx context.Context, txs [][]byte, commit bool) ([]api.TxOutcome, error) {
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

func (r *rpcConn) broadcastOne(ctx context.Context, tx []byte, commit bool) (api.TxOutcome, error) {
	out := api.TxOutcome{Hash: types.TxHashHex(tx)}
	inCache := func(err error) bool { return strings.Contains(err.Error(), "already exists in cache") }
	if !commit {
		res, err := r.rpc.BroadcastTxSync(ctx, tx)
		switch {
		case err != nil && inCache(err):
			out.Status, out.Code, out.CodeName, out.Log = api.StatusRejected, uint32(types.CodeReplay), types.CodeReplay.Name(), "tx is already in the mempool"
			return out, nil
		case err != nil:
			return out, unreachable(r.addr, err)
		case res.Code != 0:
			out.Status, out.Code, out.CodeName, out.Log = api.StatusRejected, res.Code, types.Code(res.Code).Name(), res.Log
		default:
			out.Status, out.CodeName = api.StatusAdmitted, types.CodeOK.Name()
		}
		return out, nil
	}
	res, err := r.rpc.BroadcastTxCommit(ctx, tx)
	switch {
	case err != nil && inCache(err):
		out.Status, out.Code, out.CodeName, out.Log = api.StatusRejected, uint32(types.CodeReplay), types.CodeReplay.Name(), "tx is already in the mempool"
		return out, nil
	case err != nil:
		return out, unreachable(r.addr, err)
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

// query runs an ABCI query, wrapped in a SignedQuery when sr is set.
func (r *rpcConn) query(ctx context.Context, path string, data []byte, height int64, sr *api.SignedRead) ([]byte, int64, error) {
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
		return nil, 0, unreachable(r.addr, err)
	}
	q := res.Response
	switch types.Code(q.Code) {
	case types.CodeOK:
		return q.Value, q.Height, nil
	case types.CodeNotFound:
		return nil, q.Height, fmt.Errorf("%w: %s", ErrNotFound, q.Log)
	case types.CodeUnauthorized:
		return nil, q.Height, fmt.Errorf("%w: %s", ErrUnauthorized, q.Log)
	default:
		return nil, q.Height, fmt.Errorf("%w: %s", ErrQuery, q.Log)
	}
}

func (r *rpcConn) get(ctx context.Context, key string, height int64, sr *api.SignedRead) (types.KV, int64, error) {
	val, h, err := r.query(ctx, types.QueryGet, []byte(key), height, sr)
	if err != nil {
		return types.KV{}, h, err
	}
	var kv types.KV
	if err := kv.Unmarshal(val); err != nil {
		return types.KV{}, h, fmt.Errorf("%w: decode answer: %v", ErrQuery, err)
	}
	return kv, h, nil
}

func (r *rpcConn) history(ctx context.Context, req types.HistoryRequest, sr *api.SignedRead) (types.History, error) {
	data, err := req.Marshal()
	if err != nil {
		return types.History{}, err
	}
	val, _, err := r.query(ctx, types.QueryHistory, data, 0, sr)
	if err != nil {
		return types.History{}, err
	}
	var h types.History
	if err := h.Unmarshal(val); err != nil {
		return types.History{}, fmt.Errorf("%w: decode answer: %v", ErrQuery, err)
	}
	return h, nil
}

func (r *rpcConn) tx(ctx context.Context, hash []byte, sr *api.SignedRead) (types.TxResult, error) {
	val, _, err := r.query(ctx, types.QueryTx, hash, 0, sr)
	if err != nil {
		return types.TxResult{}, err
	}
	var res types.TxResult
	if err := res.Unmarshal(val); err != nil {
		return types.TxResult{}, fmt.Errorf("%w: decode answer: %v", ErrQuery, err)
	}
	return res, nil
}

func (r *rpcConn) raw(ctx context.Context, path string, data []byte, sr *api.SignedRead) ([]byte, error) {
	val, _, err := r.query(ctx, path, data, 0, sr)
	return val, err
}

func (r *rpcConn) close() error {
	if r.http != nil && r.http.IsRunning() {
		return r.http.Stop()
	}
	return nil
}
