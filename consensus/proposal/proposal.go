package proposal

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/security/verify"
	"github.com/dstt/dstt/types"
)

// ErrAlreadySigned: the key signed this proposal before. Its text follows
// the signer's address ("ADDR already signed this proposal"), as the CLI
// has always printed it, so it carries no package prefix.
var ErrAlreadySigned = errors.New("already signed this proposal")

// File is a proposal file: the tx body, fixed, and the signatures
// collected over it so far.
type File struct {
	ChainID    string      `json:"chain_id"`
	Summary    string      `json:"summary"`
	Body       string      `json:"body_hex"`
	Signatures []Signature `json:"signatures"`
	body       *types.TxBody
	raw        []byte
}

// Signature is one admin's signature over the proposal's sign bytes, all
// in hex but the address.
type Signature struct {
	Address   string `json:"address"`
	PubKey    string `json:"pub_key"`
	Signature string `json:"signature"`
}

// New makes a proposal of body (chain id, nonce and validity already set,
// as client.Prepare does) with no signatures.
func New(body *types.TxBody, summary string) (*File, error) {
	raw, err := body.Marshal()
	if err != nil {
		return nil, err
	}
	return &File{ChainID: body.ChainId, Summary: summary, Body: hex.EncodeToString(raw), Signatures: []Signature{}, body: body, raw: raw}, nil
}

// Decode reads a proposal file's bytes; name (the file's path) is for the
// error messages.
func Decode(name string, data []byte) (*File, error) {
	var f File
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s is not a proposal file: %v", name, err)
	}
	var err error
	if f.raw, err = hex.DecodeString(f.Body); err != nil {
		return nil, fmt.Errorf("%s: body_hex: %v", name, err)
	}
	f.body = &types.TxBody{}
	if err := f.body.Unmarshal(f.raw); err != nil {
		return nil, fmt.Errorf("%s: body: %v", name, err)
	}
	if f.body.ChainId != f.ChainID {
		return nil, fmt.Errorf("%s: body is for chain %q, file says %q", name, f.body.ChainId, f.ChainID)
	}
	return &f, nil
}

// Save writes the file as indented JSON.
func (f *File) Save(path string) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// TxBody is the proposed body. Do not modify it.
func (f *File) TxBody() *types.TxBody { return f.body }

// Sign adds s's signature over the proposal and returns s's address.
func (f *File) Sign(s security.Signer) (string, error) {
	addr := types.Address(s.PubKey())
	for _, have := range f.Signatures {
		if have.Address == addr {
			return addr, fmt.Errorf("%s %w", addr, ErrAlreadySigned)
		}
	}
	sig, err := s.Sign(types.SignBytes(f.ChainID, f.raw))
	if err != nil {
		return addr, err
	}
	f.Signatures = append(f.Signatures, Signature{Address: addr, PubKey: hex.EncodeToString(s.PubKey()), Signature: hex.EncodeToString(sig)})
	return addr, nil
}

// Tx assembles the signed tx from the collected signatures.
func (f *File) Tx() ([]byte, error) {
	tx := types.Tx{BodyBytes: f.raw}
	for i, s := range f.Signatures {
		pk, err1 := hex.DecodeString(s.PubKey)
		sig, err2 := hex.DecodeString(s.Signature)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("signature %d is not hex", i)
		}
		if !verify.Signature(pk, types.SignBytes(f.ChainID, f.raw), sig) {
			return nil, fmt.Errorf("signature %d (%s) does not verify over this proposal", i, s.Address)
		}
		if slices.ContainsFunc(tx.Signatures, func(o types.Signature) bool { return bytes.Equal(o.PubKey, pk) }) {
			continue // the same key signed twice: it counts once
		}
		tx.Signatures = append(tx.Signatures, types.Signature{PubKey: pk, Signature: sig})
	}
	// The chain accepts several signatures only in ascending key order.
	slices.SortFunc(tx.Signatures, func(a, b types.Signature) int { return bytes.Compare(a.PubKey, b.PubKey) })
	return tx.Marshal()
}

// ParsePubKey reads a 32-byte ed25519 public key in hex or base64 (as in
// a node's config/priv_validator_key.json).
func ParsePubKey(s string) ([]byte, error) {
	if b, err := hex.DecodeString(s); err == nil && len(b) == 32 {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == 32 {
		return b, nil
	}
	return nil, fmt.Errorf("%q is not a 32-byte ed25519 public key in hex or base64 (see the pub_key in a node's config/priv_validator_key.json)", s)
}
