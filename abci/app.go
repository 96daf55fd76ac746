package abci

import (
	"context"
	"errors"
	"fmt"
	"strings"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/libs/log"

	"github.com/dstt/dstt/abci/engine"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
)

// AppVersion is the version of the state machine's rules.
const AppVersion uint64 = 1

// Codespace marks dstt's result codes in CometBFT responses, so a client can
// tell them from CometBFT's own.
const Codespace = "dstt"

// App adapts an engine.Engine to CometBFT's ABCI. It only translates:
// every decision is the engine's (the write side for the block calls, its
// Reader for queries). CometBFT's local client serialises the calls.
type App struct {
	abcitypes.BaseApplication
	engine *engine.Engine
	reader engine.Reader
	logger log.Logger
	auth   *queryAuth
	// OnAuthFailure, when set, is told about every refused read (for the
	// node's security log), with the query's context (an in-process caller
	// may carry who asked in it). It must not block.
	OnAuthFailure func(ctx context.Context, reader, path, reason string)
	// OnCheckTxRejected, when set, is told about every tx the mempool
	// refuses (for the node's security log). It must not block.
	OnCheckTxRejected func(txHash []byte, signer string, code types.Code, log string)
	snaps             *snapshots // snapshot files and state sync (snapshot.go)
	// beforeState: the node IDs admitted as peers while the engine has no
	// chain state (peerfilter.go); nil admits every peer then.
	beforeState map[string]bool
}

var _ abcitypes.Application = (*App)(nil)

// NewApp wraps engine. A nil logger is silent.
func NewApp(e *engine.Engine, logger log.Logger) *App {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	return &App{engine: e, reader: e.Reader(), logger: logger, auth: newQueryAuth()}
}

// Engine returns the wrapped engine.
func (a *App) Engine() *engine.Engine { return a.engine }

// Info reports the last committed height and app hash, so CometBFT's
// handshake can replay whatever blocks the app has not committed.
func (a *App) Info(context.Context, *abcitypes.RequestInfo) (*abcitypes.ResponseInfo, error) {
	return &abcitypes.ResponseInfo{
		Data:             "dstt",
		AppVersion:       AppVersion,
		LastBlockHeight:  int64(a.engine.Height()),
		LastBlockAppHash: a.engine.AppHash(),
	}, nil
}

// InitChain writes the genesis state.
func (a *App) InitChain(_ context.Context, req *abcitypes.RequestInitChain) (*abcitypes.ResponseInitChain, error) {
	vals := make([]engine.Validator, 0, len(req.Validators))
	for _, v := range req.Validators {
		pk := v.PubKey.GetEd25519()
		if len(pk) != 32 {
			return nil, fmt.Errorf("%w: validator key is not ed25519", engine.ErrGenesis)
		}
		vals = append(vals, engine.Validator{PubKey: pk, Power: v.Power})
	}
	hash, err := a.engine.InitChain(req.ChainId, req.AppStateBytes, vals...)
	if err != nil {
		return nil, err
	}
	return &abcitypes.ResponseInitChain{AppHash: hash}, nil
}

func codespace(c types.Code) string {
	if c == types.CodeOK {
		return ""
	}
	return Codespace
}

// CheckTx admits or rejects a tx for the mempool.
func (a *App) CheckTx(_ context.Context, req *abcitypes.RequestCheckTx) (*abcitypes.ResponseCheckTx, error) {
	out := a.engine.CheckTx(req.Tx)
	if out.Code != types.CodeOK && a.OnCheckTxRejected != nil && req.Type == abcitypes.CheckTxType_New {
		a.OnCheckTxRejected(out.Hash, out.Signer, out.Code, out.Log)
	}
	return &abcitypes.ResponseCheckTx{Code: uint32(out.Code), Log: out.Log, Codespace: codespace(out.Code)}, nil
}

// PrepareProposal drops txs that cannot be valid in the block.
func (a *App) PrepareProposal(_ context.Context, req *abcitypes.RequestPrepareProposal) (*abcitypes.ResponsePrepareProposal, error) {
	return &abcitypes.ResponsePrepareProposal{
		Txs: a.engine.PrepareProposal(uint64(req.Height), req.Txs, req.MaxTxBytes),
	}, nil
}

// ProcessProposal rejects a block holding a tx that cannot be valid.
func (a *App) ProcessProposal(_ context.Context, req *abcitypes.RequestProcessProposal) (*abcitypes.ResponseProcessProposal, error) {
	if ok, why := a.engine.ProcessProposal(uint64(req.Height), req.Txs); !ok {
		a.logger.Info("rejecting proposal", "height", req.Height, "reason", why)
		return &abcitypes.ResponseProcessProposal{Status: abcitypes.ResponseProcessProposal_REJECT}, nil
	}
	return &abcitypes.ResponseProcessProposal{Status: abcitypes.ResponseProcessProposal_ACCEPT}, nil
}

// FinalizeBlock executes the block and stages its writes.
func (a *App) FinalizeBlock(_ context.Context, req *abcitypes.RequestFinalizeBlock) (*abcitypes.ResponseFinalizeBlock, error) {
	b := engine.Block{Height: uint64(req.Height), Time: req.Time, Txs: req.Txs}
	for _, m := range req.Misbehavior {
		kind := "duplicate_vote"
		if m.Type == abcitypes.MisbehaviorType_LIGHT_CLIENT_ATTACK {
			kind = "light_client_attack"
		}
		b.Misbehavior = append(b.Misbehavior, engine.Misbehavior{Type: kind, Validator: m.Validator.Address, Height: uint64(m.Height)})
	}
	res, err := a.engine.FinalizeBlock(b)
	if err != nil {
		return nil, err
	}
	txs := make([]*abcitypes.ExecTxResult, len(res.Txs))
	for i, out := range res.Txs {
		txs[i] = execResult(out)
	}
	resp := &abcitypes.ResponseFinalizeBlock{TxResults: txs, AppHash: res.AppHash}
	for _, u := range res.ValidatorUpdates {
		resp.ValidatorUpdates = append(resp.ValidatorUpdates, abcitypes.Ed25519ValidatorUpdate(u.PubKey, u.Power))
		a.logger.Info("validator update", "address", fmt.Sprintf("%X", types.TxHash(u.PubKey)[:20]), "power", u.Power)
	}
	for _, m := range b.Misbehavior {
		a.logger.Error("validator misbehaviour: power removed", "type", m.Type, "validator", fmt.Sprintf("%X", m.Validator), "height", m.Height)
	}
	return resp, nil
}

// execResult is the engine's outcome for CometBFT. Data is the engine's
// encoded result, with no words in it (CometBFT hashes Data, never Log).
func execResult(out engine.Outcome) *abcitypes.ExecTxResult {
	r := &abcitypes.ExecTxResult{Code: uint32(out.Code), Log: out.Log, Codespace: codespace(out.Code), Data: out.Result}
	// No attribute is indexed: CometBFT's tx indexer would let anyone who
	// reaches its RPC search txs by key or signer (/tx_search). Index
	// flags are outside the results hash, so this changes no hash.
	if out.Signer != "" {
		r.Events = append(r.Events, abcitypes.Event{Type: types.EventTx, Attributes: []abcitypes.EventAttribute{
			{Key: types.EventAttrSigner, Value: out.Signer},
			{Key: types.EventAttrCode, Value: out.Code.Name()},
		}})
	}
	for _, w := range out.Writes {
		op := types.EventOpPut
		if w.Deleted {
			op = types.EventOpDelete
		}
		r.Events = append(r.Events, abcitypes.Event{Type: types.EventWrite, Attributes: []abcitypes.EventAttribute{
			{Key: types.EventAttrKey, Value: w.Key},
			{Key: types.EventAttrVersion, Value: w.Version.Text()},
			{Key: types.EventAttrOp, Value: op},
		}})
	}
	return r
}

// Commit persists the staged block. A failure here halts the node: state
// on disk is still the previous block's, and CometBFT replays on restart.
func (a *App) Commit(context.Context, *abcitypes.RequestCommit) (*abcitypes.ResponseCommit, error) {
	if err := a.engine.Commit(); err != nil {
		a.logger.Error("commit failed; the node stops", "err", err)
		return nil, err
	}
	a.logger.Info("committed", "height", a.engine.Height(), "app_hash", fmt.Sprintf("%X", a.engine.AppHash()))
	a.snapshotAfterCommit()
	return &abcitypes.ResponseCommit{RetainHeight: a.retainHeight()}, nil
}

// Query serves the read paths. Errors come back as codes with a message,
// never as Go errors (those would close the client connection). Reads of
// keys that "anyone" may not read need the signed form (types.QuerySigned).
func (a *App) Query(ctx context.Context, req *abcitypes.RequestQuery) (*abcitypes.ResponseQuery, error) {
	resp := &abcitypes.ResponseQuery{Height: int64(a.reader.Height()), Codespace: Codespace}
	path, data, height, reader := req.Path, req.Data, req.Height, ""
	if req.Height < 0 {
		return queryErr(resp, fmt.Errorf("%w: negative height", engine.ErrBadQuery)), nil
	}
	if path == types.QuerySigned {
		sq, key, err := a.auth.open(a.reader.ChainID(), req.Data)
		if err != nil {
			innerPath := ""
			if sq != nil {
				innerPath = sq.Path
			}
			a.authFailed(ctx, "", innerPath, err)
			return queryErr(resp, err), nil
		}
		// The reader is the identity the key acts for (the one rule for
		// writes and reads); a retired key reads nothing.
		id, err := a.reader.Resolve(key)
		if err != nil {
			a.authFailed(ctx, key, sq.Path, err)
			return queryErr(resp, err), nil
		}
		path, data, height, reader = sq.Path, sq.Data, int64(sq.Height), id
	}
	val, err := a.query(path, data, uint64(height), reader, resp)
	if err != nil {
		if errors.Is(err, engine.ErrUnauthorized) {
			a.authFailed(ctx, reader, path, err)
		}
		return queryErr(resp, err), nil
	}
	resp.Value = val
	resp.Codespace = ""
	return resp, nil
}

func (a *App) authFailed(ctx context.Context, reader, path string, err error) {
	if a.OnAuthFailure != nil {
		a.OnAuthFailure(ctx, reader, path, err.Error())
	}
}

// query serves one read path through queryHandlers.
func (a *App) query(path string, data []byte, height uint64, reader string, resp *abcitypes.ResponseQuery) ([]byte, error) {
	if ok, err := a.queryPeerFilter(path); ok {
		return nil, err
	}
	h, ok := queryHandlers[path]
	if !ok {
		return nil, fmt.Errorf("%w: unknown path %q (known: %s, %s, %s, %s, %s, %s, %s)", engine.ErrNotFound, path,
			types.QueryGet, types.QueryHistory, types.QueryTx, types.QueryParams, types.QueryPolicy, types.QueryCheck, types.QuerySigned)
	}
	return h(a, queryRequest{data: data, height: height, reader: reader, resp: resp})
}

func queryErr(resp *abcitypes.ResponseQuery, err error) *abcitypes.ResponseQuery {
	switch {
	case errors.Is(err, engine.ErrNotFound):
		resp.Code = uint32(types.CodeNotFound)
	case errors.Is(err, engine.ErrUnauthorized):
		resp.Code = uint32(types.CodeUnauthorized)
	case errors.Is(err, engine.ErrPruned), errors.Is(err, storage.ErrPruned):
		resp.Code = uint32(types.CodePruned)
	case errors.Is(err, engine.ErrBadQuery), errors.Is(err, engine.ErrNoHistory):
		resp.Code = uint32(types.CodeBadQuery)
	default:
		resp.Code = uint32(types.CodeInternal)
	}
	resp.Log = queryDetail(err)
	return resp
}

// queryDetail is the message a client shows for a refused query: the
// error's text without the package's sentinel prefix, which the code
// already says.
func queryDetail(err error) string {
	msg := err.Error()
	for _, s := range []error{engine.ErrNotFound, engine.ErrUnauthorized, engine.ErrBadQuery, engine.ErrPruned} {
		if errors.Is(err, s) {
			msg = strings.TrimPrefix(msg, s.Error()+": ")
		}
	}
	return strings.TrimPrefix(msg, "abci: ")
}
