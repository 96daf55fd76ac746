package engine

import (
	"errors"
	"fmt"

	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
)

// Query errors. The adapter maps them to query codes. Their text keeps the
// "abci:" prefix clients have always seen (the adapter strips it).
var (
	ErrNotFound     = errors.New("abci: not found")
	ErrBadQuery     = errors.New("abci: bad query")
	ErrNoHistory    = errors.New("abci: height is above the last committed height")
	ErrUnauthorized = errors.New("abci: unauthorized") // a read the reader may not make
)

// maxHistoryPage bounds one page of a key's history; a request without a
// limit gets defaultHistoryPage.
const (
	maxHistoryPage     = 1000
	defaultHistoryPage = 100
)

func toVersion(v storage.Version) types.Version {
	return types.Version{Height: v.Height, TxIndex: v.Index}
}

func toKV(key string, ent storage.Entry) types.KV {
	return types.KV{Key: key, Value: ent.Value, Version: toVersion(ent.Version), Deleted: ent.Deleted}
}

func (e *Engine) checkQueryHeight(height uint64) error {
	if height > e.height {
		return fmt.Errorf("%w: asked for %d, last committed is %d", ErrNoHistory, height, e.height)
	}
	return nil
}

// Get returns key's value as of height (0 = latest committed). A deleted
// key is ErrNotFound.
func (r Reader) Get(key string, height uint64) (types.KV, error) {
	e := r.e
	if c, msg := e.checkKey(key); c != types.CodeOK {
		return types.KV{}, fmt.Errorf("%w: %s", ErrBadQuery, msg)
	}
	if err := e.checkQueryHeight(height); err != nil {
		return types.KV{}, err
	}
	ent, ok, err := e.store.Get(userKey(key), height)
	if err != nil {
		return types.KV{}, e.prunedErr(err, height)
	}
	if !ok || ent.Deleted {
		return types.KV{}, fmt.Errorf("%w: key %q", ErrNotFound, key)
	}
	return toKV(key, ent), nil
}

// History returns one page of key's versions, newest first.
func (r Reader) History(req types.HistoryRequest) (types.History, error) {
	e := r.e
	if c, msg := e.checkKey(req.Key); c != types.CodeOK {
		return types.History{}, fmt.Errorf("%w: %s", ErrBadQuery, msg)
	}
	limit := int(req.Limit)
	switch {
	case limit > maxHistoryPage:
		return types.History{}, fmt.Errorf("%w: limit %d is above the maximum page of %d", ErrBadQuery, limit, maxHistoryPage)
	case limit <= 0:
		limit = defaultHistoryPage
	}
	if req.Before.Height != 0 {
		// Versions strictly older than before: none is readable when
		// before is at or below the floor.
		floor, err := e.store.Floor()
		if err != nil {
			return types.History{}, err
		}
		if req.Before.Height <= floor {
			return types.History{}, e.prunedErr(storage.ErrPruned, req.Before.Height)
		}
	}
	ents, err := e.store.History(userKey(req.Key), storage.Version{Height: req.Before.Height, Index: req.Before.TxIndex}, limit+1)
	if err != nil {
		return types.History{}, err
	}
	h := types.History{Key: req.Key}
	for i, ent := range ents {
		if i == limit {
			h.Next = h.Versions[limit-1].Version
			break
		}
		h.Versions = append(h.Versions, toKV(req.Key, ent))
	}
	return h, nil
}

// TxResult returns the committed result of the tx with this hash.
func (r Reader) TxResult(hash []byte) (types.TxResult, error) {
	return committedTxResult(r.e.store, hash)
}

// TxResults reads committed tx results straight from the store, for the
// node's own REST gateway: a trusted in-process read, not a query, so no
// access check and nothing recorded. Whoever holds it decides what to
// show to whom. It is safe for concurrent use alongside the engine (the
// store is; a block's results are committed in one batch).
type TxResults struct{ store storage.Store }

// NewTxResults reads the tx results kept in store.
func NewTxResults(store storage.Store) *TxResults { return &TxResults{store: store} }

// TxResult is Reader.TxResult: ErrNotFound for a tx not committed.
func (t *TxResults) TxResult(hash []byte) (types.TxResult, error) {
	return committedTxResult(t.store, hash)
}

func committedTxResult(store storage.Store, hash []byte) (types.TxResult, error) {
	if len(hash) != 32 {
		return types.TxResult{}, fmt.Errorf("%w: a tx hash is 32 bytes (64 hex digits), got %d bytes", ErrBadQuery, len(hash))
	}
	ent, ok, err := store.Get(txKey(hash), 0)
	if err != nil {
		return types.TxResult{}, err
	}
	if !ok {
		return types.TxResult{}, fmt.Errorf("%w: tx %X is not committed", ErrNotFound, hash)
	}
	var res types.TxResult
	if err := res.Unmarshal(ent.Value); err != nil {
		return types.TxResult{}, fmt.Errorf("abci: stored tx result: %w", err)
	}
	res.Log = renderLog(types.Code(res.Code), res.Reason) // state keeps no words
	return res, nil
}
