package client

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	rpcclient "github.com/cometbft/cometbft/rpc/client"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"

	"github.com/dstt/dstt/abci"
	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/types"
)

// Errors returned by Client methods (wrapped; test with errors.Is).
var (
	ErrUnreachable  = errors.New("client: node unreachable")
	ErrRejected     = errors.New("client: transaction rejected")
	ErrNotFound     = errors.New("client: not found")
	ErrQuery        = errors.New("client: query failed")
	ErrUnauthorized = errors.New("client: unauthorized")
)

// DefaultValidFor is how many blocks past the latest height a submitted tx
// stays valid when the caller does not say.
const DefaultValidFor = 100

// TxError is a tx outcome with a non-zero code.
type TxError struct {
	Hash   string
	Height int64
	Code   types.Code
	Log    string
	// Stage is "check" (refused by the mempool) or "deliver" (in a block).
	Stage string
}

func (e *TxError) Error() string {
	if e.Stage == "deliver" {
		return fmt.Sprintf("tx %s failed in block %d: %s (code %d %s)", e.Hash, e.Height, e.Log, e.Code, e.Code.Name())
	}
	return fmt.Sprintf("tx %s refused: %s (code %d %s)", e.Hash, e.Log, e.Code, e.Code.Name())
}

func (e *TxError) Unwrap() error { return ErrRejected }

// Result is a committed tx.
type Result struct {
	Hash   string
	Height int64
	Code   types.Code
	Log    string
	Writes []types.Write
}

// Client talks to one node.
type Client struct {
	rpc  rpcclient.Client
	addr string
	// reader, when set, signs every query (SetReader).
	reader  security.Signer
	mu      sync.Mutex
	chainID string // cached for signing queries
	now     func() time.Time
}

// SetReader makes the client sign its queries with s, so it can read keys
// that only some signers may read. Call it before using the client.
func (c *Client) SetReader(s security.Signer) { c.reader = s }

// New connects to a node's RPC address, e.g. tcp://127.0.0.1:26657.
func New(addr string) (*Client, error) {
	c, err := rpchttp.New(addr, "/websocket")
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, addr, err)
	}
	return &Client{rpc: c, addr: addr, now: time.Now}, nil
}

// NewFromRPC wraps any CometBFT RPC client (e.g. the in-process one).
func NewFromRPC(c rpcclient.Client) *Client {
	return &Client{rpc: c, addr: "in-process", now: time.Now}
}

func (c *Client) unreachable(err error) error {
	return fmt.Errorf("%w at %s (is `dstt start` running there? set --node): %v", ErrUnreachable, c.addr, err)
}

// ChainInfo is what a client needs to build a tx.
type ChainInfo struct {
	ChainID      string
	LatestHeight int64
}

// ChainInfo asks the node for its chain id and latest height.
func (c *Client) ChainInfo(ctx context.Context) (ChainInfo, error) {
	st, err := c.rpc.Status(ctx)
	if err != nil {
		return ChainInfo{}, c.unreachable(err)
	}
	return ChainInfo{ChainID: st.NodeInfo.Network, LatestHeight: st.SyncInfo.LatestBlockHeight}, nil
}

// Prepare fills in a body's chain id, and its nonce and valid_until_height
// when they are zero.
func (c *Client) Prepare(ctx context.Context, body *types.TxBody) error {
	info, err := c.ChainInfo(ctx)
	if err != nil {
		return err
	}
	body.ChainId = info.ChainID
	if body.Nonce == 0 {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return fmt.Errorf("client: nonce: %w", err)
		}
		body.Nonce = binary.BigEndian.Uint64(b[:]) | 1
	}
	if body.ValidUntilHeight == 0 {
		body.ValidUntilHeight = uint64(info.LatestHeight) + DefaultValidFor
	}
	return nil
}

// Sign prepares body and signs it; it returns the tx bytes.
func (c *Client) Sign(ctx context.Context, body *types.TxBody, signers ...security.Signer) ([]byte, error) {
	if err := c.Prepare(ctx, body); err != nil {
		return nil, err
	}
	return security.SignTx(body, signers...)
}

// Submit signs body and waits until the tx is committed in a block. A tx
// refused by CheckTx or failed in the block returns a *TxError.
func (c *Client) Submit(ctx context.Context, body *types.TxBody, signers ...security.Signer) (Result, error) {
	tx, err := c.Sign(ctx, body, signers...)
	if err != nil {
		return Result{}, err
	}
	return c.BroadcastCommit(ctx, tx)
}

// BroadcastCommit submits signed tx bytes and waits for the block result.
func (c *Client) BroadcastCommit(ctx context.Context, tx []byte) (Result, error) {
	hash := types.TxHashHex(tx)
	res, err := c.rpc.BroadcastTxCommit(ctx, tx)
	if err != nil {
		if strings.Contains(err.Error(), "already exists in cache") {
			return Result{}, &TxError{Hash: hash, Code: types.CodeReplay, Log: "tx is already in the mempool", Stage: "check"}
		}
		return Result{}, c.unreachable(err)
	}
	if res.CheckTx.Code != 0 {
		return Result{}, &TxError{Hash: hash, Code: types.Code(res.CheckTx.Code), Log: res.CheckTx.Log, Stage: "check"}
	}
	out := Result{Hash: hash, Height: res.Height, Code: types.Code(res.TxResult.Code), Log: res.TxResult.Log}
	var rec types.TxResult
	if err := rec.Unmarshal(res.TxResult.Data); err == nil {
		out.Writes = rec.Writes
	}
	if out.Code != types.CodeOK {
		return out, &TxError{Hash: hash, Height: res.Height, Code: out.Code, Log: out.Log, Stage: "deliver"}
	}
	return out, nil
}

func (c *Client) query(ctx context.Context, path string, data []byte, height int64) ([]byte, int64, error) {
	if c.reader != nil {
		var err error
		if path, data, err = c.signQuery(ctx, path, data, height); err != nil {
			return nil, 0, err
		}
		height = 0
	}
	res, err := c.rpc.ABCIQueryWithOptions(ctx, path, data, rpcclient.ABCIQueryOptions{Height: height})
	if err != nil {
		return nil, 0, c.unreachable(err)
	}
	r := res.Response
	switch types.Code(r.Code) {
	case types.CodeOK:
		return r.Value, r.Height, nil
	case types.CodeNotFound:
		return nil, r.Height, fmt.Errorf("%w: %s", ErrNotFound, strings.TrimPrefix(r.Log, "abci: not found: "))
	case types.CodeUnauthorized:
		return nil, r.Height, fmt.Errorf("%w: %s", ErrUnauthorized, strings.TrimPrefix(r.Log, "abci: unauthorized: "))
	default:
		return nil, r.Height, fmt.Errorf("%w: %s", ErrQuery, r.Log)
	}
}

// signQuery wraps a query in a types.SignedQuery signed by the reader.
func (c *Client) signQuery(ctx context.Context, path string, data []byte, height int64) (string, []byte, error) {
	c.mu.Lock()
	chainID := c.chainID
	c.mu.Unlock()
	if chainID == "" {
		info, err := c.ChainInfo(ctx)
		if err != nil {
			return "", nil, err
		}
		chainID = info.ChainID
		c.mu.Lock()
		c.chainID = chainID
		c.mu.Unlock()
	}
	sq := types.SignedQuery{Path: path, Data: data, Height: uint64(height), TimeUnixMs: c.now().UnixMilli(), PubKey: c.reader.PubKey()}
	sig, err := c.reader.Sign(types.QuerySignBytes(chainID, path, data, sq.Height, sq.TimeUnixMs))
	if err != nil {
		return "", nil, fmt.Errorf("client: sign query: %w", err)
	}
	sq.Signature = sig
	b, err := sq.Marshal()
	return abci.QuerySigned, b, err
}

// Get reads key at height (0 = latest). It returns the value's entry and
// the height the answer is for.
func (c *Client) Get(ctx context.Context, key string, height int64) (types.KV, int64, error) {
	val, h, err := c.query(ctx, abci.QueryGet, []byte(key), height)
	if err != nil {
		return types.KV{}, h, err
	}
	var kv types.KV
	if err := kv.Unmarshal(val); err != nil {
		return types.KV{}, h, fmt.Errorf("%w: decode answer: %v", ErrQuery, err)
	}
	return kv, h, nil
}

// History returns one page of key's versions, newest first.
func (c *Client) History(ctx context.Context, req types.HistoryRequest) (types.History, error) {
	data, err := req.Marshal()
	if err != nil {
		return types.History{}, err
	}
	val, _, err := c.query(ctx, abci.QueryHistory, data, 0)
	if err != nil {
		return types.History{}, err
	}
	var h types.History
	if err := h.Unmarshal(val); err != nil {
		return types.History{}, fmt.Errorf("%w: decode answer: %v", ErrQuery, err)
	}
	return h, nil
}

// Raw runs any query path and returns the answer's bytes.
func (c *Client) Raw(ctx context.Context, path string, data []byte) ([]byte, error) {
	val, _, err := c.query(ctx, path, data, 0)
	return val, err
}

// Tx returns the committed result of a tx by its hash.
func (c *Client) Tx(ctx context.Context, hash []byte) (types.TxResult, error) {
	val, _, err := c.query(ctx, abci.QueryTx, hash, 0)
	if err != nil {
		return types.TxResult{}, err
	}
	var r types.TxResult
	if err := r.Unmarshal(val); err != nil {
		return types.TxResult{}, fmt.Errorf("%w: decode answer: %v", ErrQuery, err)
	}
	return r, nil
}
