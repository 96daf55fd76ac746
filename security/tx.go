package security

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/dstt/dstt/types"
)

// ErrNoSigners is returned by SignTx without a signer.
var ErrNoSigners = errors.New("security: a tx needs at least one signer")

// SignTx encodes body once and signs those exact bytes with every signer.
// It returns the canonical tx envelope, ready to submit: with several
// signers (only governance txs take more than one) the signatures are in
// ascending order of public key, as the chain requires.
func SignTx(body *types.TxBody, signers ...Signer) ([]byte, error) {
	if len(signers) == 0 {
		return nil, ErrNoSigners
	}
	bodyBytes, err := body.Marshal()
	if err != nil {
		return nil, fmt.Errorf("security: encode tx body: %w", err)
	}
	msg := types.SignBytes(body.ChainId, bodyBytes)
	tx := types.Tx{BodyBytes: bodyBytes, Signatures: make([]types.Signature, len(signers))}
	for i, s := range signers {
		sig, err := s.Sign(msg)
		if err != nil {
			return nil, fmt.Errorf("security: sign tx (signer %d): %w", i, err)
		}
		tx.Signatures[i] = types.Signature{PubKey: s.PubKey(), Signature: sig}
	}
	slices.SortFunc(tx.Signatures, func(a, b types.Signature) int { return bytes.Compare(a.PubKey, b.PubKey) })
	return tx.Marshal()
}

// RotateKeyOp builds the op that makes next's key the signing key of the
// identity whose current key is oldPub: next signs the proof of possession
// (types.RotateProofBytes). The tx carrying it is signed by the old key.
func RotateKeyOp(chainID string, oldPub []byte, next Signer) (types.Op, error) {
	newPub := next.PubKey()
	proof, err := next.Sign(types.RotateProofBytes(chainID, oldPub, newPub))
	if err != nil {
		return types.Op{}, fmt.Errorf("security: sign the rotation proof with the new key: %w", err)
	}
	return types.Op{Sum: &types.Op_RotateKey{RotateKey: &types.RotateKey{NewPubKey: newPub, Proof: proof}}}, nil
}
