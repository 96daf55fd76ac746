package types_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

var testLimits = types.Limits{MaxTxBytes: 1 << 20, MaxOps: 64, MaxKeyBytes: 512, MaxValueBytes: 1 << 16, MaxSignatures: 16, MaxMemoBytes: 256}

func envelope(body types.TxBody, pubs ...byte) []byte {
	bb, _ := body.Marshal()
	tx := types.Tx{BodyBytes: bb}
	for _, p := range pubs {
		pk := bytes.Repeat([]byte{p}, 32)
		tx.Signatures = append(tx.Signatures, types.Signature{PubKey: pk, Signature: bytes.Repeat([]byte{p}, 64)})
	}
	b, _ := tx.Marshal()
	return b
}

func putBody(chain string) types.TxBody {
	return types.TxBody{ChainId: chain, Nonce: 1, ValidUntilHeight: 5, Ops: []types.Op{
		{Sum: &types.Op_Put{Put: &types.Put{Key: "acct/1", Value: []byte("100")}}},
	}}
}

func govBody(chain string) types.TxBody {
	return types.TxBody{ChainId: chain, Nonce: 2, ValidUntilHeight: 5, Ops: []types.Op{
		{Sum: &types.Op_RemoveOrg{RemoveOrg: &types.RemoveOrg{Id: "org3"}}},
	}}
}

// Attack 1: every key-less re-encoding of a signed tx is refused by the
// one stateless check, except dropping a co-signature of a governance tx,
// which keeps the replay identity (so it can never commit besides the
// original).
func TestValidateTxRefusesVariants(t *testing.T) {
	for _, tc := range []struct {
		name string
		tx   []byte
	}{
		{"single", envelope(putBody("c"), 1)},
		{"gov", envelope(govBody("c"), 1, 2, 3)},
	} {
		tx, _, code, msg := types.ValidateTx(tc.tx, "c", testLimits)
		if code != types.CodeOK {
			t.Fatalf("%s: the canonical tx is refused: %s %s", tc.name, code, msg)
		}
		want := types.ReplayID("c", tx.BodyBytes)
		for _, v := range typestest.EnvelopeVariants(tc.tx) {
			vtx, _, code, msg := types.ValidateTx(v.Bytes, "c", testLimits)
			if v.Name == "dropped-signature" {
				if code != types.CodeOK || types.ReplayID("c", vtx.BodyBytes) != want {
					t.Errorf("%s/%s: want accepted with the same replay id, got %s %s", tc.name, v.Name, code, msg)
				}
				continue
			}
			if code != types.CodeEncoding {
				t.Errorf("%s/%s: want ENCODING, got %s %s", tc.name, v.Name, code, msg)
			}
		}
	}
}

func TestValidateTxRules(t *testing.T) {
	multiPut := envelope(putBody("c"), 1, 2)
	bodyUnknown := func() []byte {
		pb := putBody("c")
		bb, _ := pb.Marshal()
		bb = append(bb, 0x78, 0x01)
		tx := types.Tx{BodyBytes: bb, Signatures: []types.Signature{{PubKey: make([]byte, 32), Signature: make([]byte, 64)}}}
		b, _ := tx.Marshal()
		return b
	}()
	badMemo := putBody("c")
	badMemo.Memo = "\xff\xfe"
	big := putBody("c")
	big.Ops[0].GetPut().Value = make([]byte, 1<<17)
	for _, tc := range []struct {
		name string
		tx   []byte
		code types.Code
		msg  string
	}{
		{"ok", envelope(putBody("c"), 1), types.CodeOK, ""},
		{"wrong chain", envelope(putBody("other"), 1), types.CodeWrongChain, "other"},
		{"no signature", envelope(putBody("c")), types.CodeNoSignature, ""},
		{"co-signed put", multiPut, types.CodeInvalidOp, "only a tx of governance ops"},
		{"gov descending", envelope(govBody("c"), 3, 2), types.CodeEncoding, "ascending"},
		{"gov duplicate signer", envelope(govBody("c"), 2, 2), types.CodeEncoding, "ascending"},
		{"unknown field in body", bodyUnknown, types.CodeEncoding, "body is not in canonical"},
		{"value too large", envelope(big, 1), types.CodeTooLarge, "value is"},
		{"memo not UTF-8", envelope(badMemo, 1), types.CodeEncoding, "memo is not valid UTF-8"},
		{"too many signatures", envelope(govBody("c"), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17), types.CodeTooLarge, "17 signatures"},
		{"too large", make([]byte, testLimits.MaxTxBytes+1), types.CodeTooLarge, "bytes"},
	} {
		_, _, code, msg := types.ValidateTx(tc.tx, "c", testLimits)
		if code != tc.code || !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: got %s %q, want %s containing %q", tc.name, code, msg, tc.code, tc.msg)
		}
	}
}

func TestCheckKey(t *testing.T) {
	for _, tc := range []struct {
		key  string
		code types.Code
	}{
		{"acct/1", types.CodeOK},
		{"caf\u00e9", types.CodeOK},           // NFC
		{"cafe\u0301", types.CodeInvalidOp},   // NFD: same look, other bytes
		{"acct/\u200b1", types.CodeInvalidOp}, // zero-width space (Cf)
		{"acct/\u202e1", types.CodeInvalidOp}, // right-to-left override (Cf)
		{"acct/\ufeff1", types.CodeInvalidOp}, // BOM / zero-width no-break space
		{"acct/\u20281", types.CodeInvalidOp}, // line separator
		{"bad\x01key", types.CodeInvalidOp},   // control
		{"\xff", types.CodeInvalidOp},         // not UTF-8
		{"", types.CodeInvalidOp},             // empty
		{strings.Repeat("k", 513), types.CodeTooLarge},
	} {
		if c, msg := types.CheckKey(tc.key, 512); c != tc.code {
			t.Errorf("key %q: got %s (%s), want %s", tc.key, c, msg, tc.code)
		}
	}
}

// FuzzValidateTx: an envelope the stateless check accepts is its own
// canonical encoding (re-encoding gives the same bytes), and every
// key-less variant of it is either refused or shares its replay identity.
func FuzzValidateTx(f *testing.F) {
	f.Add(envelope(putBody("c"), 1))
	f.Add(envelope(govBody("c"), 1, 2, 3))
	f.Add([]byte{0x0a, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		var pre types.Tx
		var body types.TxBody
		if pre.Unmarshal(data) != nil || body.Unmarshal(pre.BodyBytes) != nil {
			return
		}
		chain := body.ChainId
		tx, _, code, _ := types.ValidateTx(data, chain, testLimits)
		if code != types.CodeOK {
			return
		}
		re, err := tx.Marshal()
		if err != nil || !bytes.Equal(re, data) {
			t.Fatalf("accepted envelope is not its own encoding")
		}
		id := types.ReplayID(chain, tx.BodyBytes)
		for _, v := range typestest.EnvelopeVariants(data) {
			vtx, _, code, _ := types.ValidateTx(v.Bytes, chain, testLimits)
			if code != types.CodeOK {
				continue
			}
			if v.Name != "dropped-signature" {
				t.Fatalf("variant %s accepted", v.Name)
			}
			if types.ReplayID(chain, vtx.BodyBytes) != id {
				t.Fatalf("variant %s has another replay identity", v.Name)
			}
		}
	})
}
