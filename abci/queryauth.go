package abci

import (
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"github.com/dstt/dstt/abci/engine"
	"github.com/dstt/dstt/security/verify"
	"github.com/dstt/dstt/types"
)

// DefaultQuerySkew bounds how far a signed query's timestamp may be from the
// node's clock.
const DefaultQuerySkew = 30 * time.Second

// queryAuth checks signed queries. It is node-local (it reads the wall
// clock) and lives in the adapter, never in the engine.
type queryAuth struct {
	now  func() time.Time
	skew time.Duration
	mu   sync.Mutex
	seen map[[32]byte]time.Time // signature hash -> expiry, for replay refusal
}

func newQueryAuth() *queryAuth {
	return &queryAuth{now: time.Now, skew: DefaultQuerySkew, seen: map[[32]byte]time.Time{}}
}

// open decodes a signed query (only its canonical encoding), verifies it
// and returns it with the signing key's address. A signed query can be used
// once: a replay inside the skew window is refused. The nonce makes two
// honest identical queries in one millisecond distinct.
func (q *queryAuth) open(chainID string, raw []byte) (*types.SignedQuery, string, error) {
	var sq types.SignedQuery
	if !types.IsCanonical(&sq, raw) {
		return nil, "", fmt.Errorf("%w: signed query does not decode, or is not in canonical encoding", engine.ErrBadQuery)
	}
	if len(sq.PubKey) != types.PubKeySize || len(sq.Signature) != types.SignatureSize {
		return nil, "", fmt.Errorf("%w: signed query needs a 32-byte ed25519 key and a 64-byte signature", engine.ErrUnauthorized)
	}
	if len(sq.Nonce) != types.QueryNonceSize {
		return nil, "", fmt.Errorf("%w: signed query needs a %d-byte random nonce (got %d bytes)", engine.ErrUnauthorized, types.QueryNonceSize, len(sq.Nonce))
	}
	now := q.now()
	t := time.UnixMilli(sq.TimeUnixMs)
	if d := now.Sub(t); d > q.skew || d < -q.skew {
		return nil, "", fmt.Errorf("%w: signed query timestamp %s is more than %s from the node's clock %s (check the client's clock)",
			engine.ErrUnauthorized, t.UTC().Format(time.RFC3339), q.skew, now.UTC().Format(time.RFC3339))
	}
	msg := types.QuerySignBytes(chainID, sq.Path, sq.Data, sq.Height, sq.TimeUnixMs, sq.Nonce)
	if !verify.Signature(sq.PubKey, msg, sq.Signature) {
		return nil, "", fmt.Errorf("%w: the query's signature does not verify", engine.ErrUnauthorized)
	}
	key := sha256.Sum256(sq.Signature)
	q.mu.Lock()
	defer q.mu.Unlock()
	if exp, ok := q.seen[key]; ok && now.Before(exp) {
		return nil, "", fmt.Errorf("%w: this signed query was already used (replay)", engine.ErrUnauthorized)
	}
	if len(q.seen) > 100_000 { // drop expired entries
		for k, exp := range q.seen {
			if now.After(exp) {
				delete(q.seen, k)
			}
		}
	}
	q.seen[key] = t.Add(2 * q.skew)
	return &sq, types.Address(sq.PubKey), nil
}

// readDenied is the error for a read reader may not make.
func readDenied(reader, key string) error {
	if reader == "" {
		return fmt.Errorf("%w: reading %q needs a signed query (dstt query ... --from KEY) by a reader with read permission", engine.ErrUnauthorized, key)
	}
	return fmt.Errorf("%w: %s lacks read on key %q", engine.ErrUnauthorized, reader, key)
}
