package client

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/types"
)

// Identity asks the node for the identity of the key with address addr
// and the identity's key history (types.QueryIdentity; over REST, GET
// /v1/identities/{address}). ErrNotFound when no identity has had the key.
//
// On a chain with access control the node answers a read signed by an org
// admin, a policy reader (admins, the auditor role) or a key of the
// identity itself (the client's reader, WithReader); anyone else gets
// ErrUnauthorized.
func (c *Client) Identity(ctx context.Context, addr string) (types.IdentityView, error) {
	return c.identityAs(ctx, c.readerKey(), addr)
}

// identityAs is Identity with the query signed by reader (nil: unsigned).
func (c *Client) identityAs(ctx context.Context, reader security.Signer, addr string) (types.IdentityView, error) {
	var v types.IdentityView
	addr = strings.ToLower(addr) // as the gateway asks the node, so a signature covers it
	sr, err := c.signRead(ctx, reader, types.QueryIdentity, []byte(addr), 0)
	if err != nil {
		return v, err
	}
	raw, err := c.conn.Raw(ctx, types.QueryIdentity, []byte(addr), sr)
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("%w: decode identity: %v", ErrQuery, err)
	}
	return v, nil
}

// RotateKey moves old's identity to next's key: it submits a RotateKey op
// (security.RotateKeyOp: next signs its proof of possession) in a tx that
// old signs, and waits for its block. After that height the chain refuses
// old for the identity; its address and permissions stay. Once the
// rotation is committed, the client signs with next wherever it signed
// with old (its reader and its WithSigner keys).
//
// A refusal is a *TxError (ErrRejected) with the code that says why:
// types.CodeKeyRetired when old is already retired, unless next is the
// identity's current key: then an earlier RotateKey was committed, and
// RotateKey returns a zero Result and no error. Any other error leaves the
// outcome unknown (look the tx up by the hash in the error).
func (c *Client) RotateKey(ctx context.Context, old, next security.Signer) (Result, error) {
	info, err := c.ChainInfo(ctx)
	if err != nil {
		return Result{}, err
	}
	op, err := security.RotateKeyOp(info.ChainID, old.PubKey(), next)
	if err != nil {
		return Result{}, err
	}
	tx, err := c.Sign(ctx, &types.TxBody{Ops: []types.Op{op}}, old)
	if err != nil {
		return Result{}, err
	}
	res, err := c.BroadcastCommit(ctx, tx)
	var txErr *TxError
	if errors.As(err, &txErr) && txErr.Code == types.CodeKeyRetired {
		// Asked as next: old, retired, reads nothing.
		id, qerr := c.identityAs(ctx, next, types.Address(old.PubKey()))
		if qerr == nil && id.Current == hex.EncodeToString(next.PubKey()) {
			c.replaceKey(old, next)
			return Result{}, nil
		}
	}
	if err != nil && txErr == nil {
		return res, fmt.Errorf("tx %s: %w", types.TxHashHex(tx), err)
	}
	if err == nil {
		c.replaceKey(old, next)
	}
	return res, err
}
