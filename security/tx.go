package security

import (
	"errors"
	"fmt"

	"github.com/dstt/dstt/types"
)

// ErrNoSigners is returned by SignTx without a signer.
var ErrNoSigners = errors.New("security: a tx needs at least one signer")

// SignTx encodes body once and signs those exact bytes with every signer,
// in order (the first signer is the tx's actor). It returns the encoded tx
// envelope, ready to submit.
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
	return tx.Marshal()
}
