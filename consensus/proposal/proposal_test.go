package proposal_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/dstt/dstt/consensus/proposal"
	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/security/verify"
	"github.com/dstt/dstt/types"
)

func key(t *testing.T) *security.LocalSigner {
	t.Helper()
	k, err := security.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// A proposal survives save and load, collects each key's signature once,
// and becomes a tx whose signatures verify and are in ascending key order.
func TestSignSaveLoadTx(t *testing.T) {
	body := &types.TxBody{ChainId: "c", Nonce: 7, ValidUntilHeight: 100, Memo: "remove org o2",
		Ops: []types.Op{{Sum: &types.Op_RemoveOrg{RemoveOrg: &types.RemoveOrg{Id: "o2"}}}}}
	f, err := proposal.New(body, "remove org o2")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "prop.json")
	a, b := key(t), key(t)
	for _, s := range []*security.LocalSigner{a, b} {
		if err := f.Save(path); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if f, err = proposal.Decode(path, data); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Sign(s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.Sign(a); !errors.Is(err, proposal.ErrAlreadySigned) {
		t.Fatalf("second signature by one key: %v", err)
	}
	raw, err := f.Tx()
	if err != nil {
		t.Fatal(err)
	}
	var tx types.Tx
	if err := tx.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	if len(tx.Signatures) != 2 || bytes.Compare(tx.Signatures[0].PubKey, tx.Signatures[1].PubKey) >= 0 {
		t.Fatalf("signatures: %d, want 2 in ascending key order", len(tx.Signatures))
	}
	for _, s := range tx.Signatures {
		if !verify.Signature(s.PubKey, types.SignBytes("c", tx.BodyBytes), s.Signature) {
			t.Fatalf("signature by %X does not verify", s.PubKey)
		}
	}
	if f.TxBody().Memo != body.Memo {
		t.Fatalf("body after load: %+v", f.TxBody())
	}
}

// A file whose signature was tampered with, or whose chain id disagrees
// with its body, is refused.
func TestRefusesBadFiles(t *testing.T) {
	f, err := proposal.New(&types.TxBody{ChainId: "c", Nonce: 1, ValidUntilHeight: 10}, "s")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Sign(key(t)); err != nil {
		t.Fatal(err)
	}
	sig, err := hex.DecodeString(f.Signatures[0].Signature)
	if err != nil {
		t.Fatal(err)
	}
	sig[0] ^= 1
	f.Signatures[0].Signature = hex.EncodeToString(sig)
	if _, err := f.Tx(); err == nil {
		t.Fatal("a tampered signature was accepted")
	}
	if _, err := proposal.Decode("p.json", []byte(`{"chain_id":"other","body_hex":"`+f.Body+`"}`)); err == nil {
		t.Fatal("a body for another chain was accepted")
	}
	if _, err := proposal.Decode("p.json", []byte(`not json`)); err == nil {
		t.Fatal("not json was accepted")
	}
}

func TestParsePubKey(t *testing.T) {
	pk := key(t).PubKey()
	for _, s := range []string{"0x", "abcd", ""} {
		if _, err := proposal.ParsePubKey(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
	for _, s := range []string{hexOf(pk), b64(pk)} {
		if got, err := proposal.ParsePubKey(s); err != nil || !bytes.Equal(got, pk) {
			t.Errorf("%q: %X %v", s, got, err)
		}
	}
}

func hexOf(b []byte) string { return fmt.Sprintf("%x", b) }
func b64(b []byte) string   { return base64.StdEncoding.EncodeToString(b) }
