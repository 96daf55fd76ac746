package types

import (
	"bytes"
	"testing"
)

func seedTx() []byte {
	body := TxBody{ChainId: "c", Nonce: 7, ValidUntilHeight: 9, Memo: "m", Ops: []Op{
		{Sum: &Op_Put{Put: &Put{Key: "k", Value: []byte("v")}}},
		{Sum: &Op_Delete{Delete: &Delete{Key: "d"}}},
		{Sum: &Op_Check{Check: &Check{Key: "k", Version: Version{Height: 3, TxIndex: 1}}}},
	}}
	bb, _ := body.Marshal()
	tx := Tx{BodyBytes: bb, Signatures: []Signature{{PubKey: make([]byte, 32), Signature: make([]byte, 64)}}}
	b, _ := tx.Marshal()
	return b
}

// FuzzDecodeTx: decoding never panics, and whatever decodes re-encodes to
// bytes that decode to the same message.
func FuzzDecodeTx(f *testing.F) {
	f.Add(seedTx())
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		tx, body, err := DecodeTx(data)
		if err != nil {
			return
		}
		b1, err := tx.Marshal()
		if err != nil {
			t.Fatalf("re-encode tx: %v", err)
		}
		tx2, body2, err := DecodeTx(b1)
		if err != nil {
			t.Fatalf("decode re-encoded tx: %v", err)
		}
		b2, _ := tx2.Marshal()
		bb1, _ := body.Marshal()
		bb2, _ := body2.Marshal()
		if !bytes.Equal(b1, b2) || !bytes.Equal(bb1, bb2) {
			t.Fatalf("round trip changed the tx")
		}
		// Signatures cover body_bytes exactly as sent: they survive.
		if !bytes.Equal(tx2.BodyBytes, tx.BodyBytes) {
			t.Fatalf("body bytes changed")
		}
	})
}
