package api

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/security/verify"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

func TestEventIDs(t *testing.T) {
	ids := []string{"0", "1.0.0", "1.0.1", "1.3.0", "1", "2.0.0", "12"}
	var prev *EventID
	for _, s := range ids {
		id, err := ParseEventID(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if id.String() != s {
			t.Errorf("%q prints as %q", s, id.String())
		}
		if prev != nil && !prev.Less(id) {
			t.Errorf("%s is not after %s", s, prev)
		}
		prev = &id
	}
	for _, bad := range []string{"", "x", "0.0.0", "-1", "1.2", "1.2.3.4", "1.4294967295.2147483647", "1.a.0"} {
		if _, err := ParseEventID(bad); err == nil {
			t.Errorf("ParseEventID(%q) accepted", bad)
		}
	}
}

func FuzzParseEventID(f *testing.F) {
	for _, s := range []string{"1.0.0", "12", "0", "3.4.5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseEventID(s)
		if err != nil {
			return
		}
		again, err := ParseEventID(id.String())
		if err != nil || again != id {
			t.Fatalf("%q -> %v -> %q -> %v (%v)", s, id, id.String(), again, err)
		}
	})
}

func TestAuthorizationRoundTrip(t *testing.T) {
	k, _ := security.GenerateKey()
	sr, err := SignRead(k, "chain", "/kv/get", []byte("a/b"), 7, time.UnixMilli(1234))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseAuthorization(sr.String())
	if err != nil || !bytes.Equal(got.PubKey, sr.PubKey) || !bytes.Equal(got.Signature, sr.Signature) || got.TimeUnixMs != 1234 {
		t.Fatalf("%+v %v", got, err)
	}
	q := got.Query("/kv/get", []byte("a/b"), 7)
	if !verify.Signature(q.PubKey, types.QuerySignBytes("chain", q.Path, q.Data, q.Height, q.TimeUnixMs, q.Nonce), q.Signature) {
		t.Fatal("the rebuilt signed query does not verify")
	}
	for _, bad := range []string{"", "Basic abc", "Dstt-Query", "Dstt-Query pubkey=AA==, time=1, sig=AA==", "Dstt-Query time=1, time=2"} {
		if _, err := ParseAuthorization(bad); err == nil {
			t.Errorf("ParseAuthorization(%q) accepted", bad)
		}
	}
}

func FuzzParseAuthorization(f *testing.F) {
	k, _ := security.GenerateKey()
	sr, _ := SignRead(k, "c", "/tx", nil, 0, time.UnixMilli(5))
	f.Add(sr.String())
	f.Add("Dstt-Query pubkey=, time=, sig=")
	f.Fuzz(func(t *testing.T, h string) {
		sr, err := ParseAuthorization(h)
		if err != nil {
			return
		}
		again, err := ParseAuthorization(sr.String())
		if err != nil || !bytes.Equal(again.PubKey, sr.PubKey) || !bytes.Equal(again.Signature, sr.Signature) || again.TimeUnixMs != sr.TimeUnixMs {
			t.Fatalf("%q does not round-trip: %v", h, err)
		}
	})
}

func TestValues(t *testing.T) {
	for _, v := range [][]byte{nil, []byte("plain"), {0xff, 0}, []byte("ünïcode")} {
		text, b64 := EncodeValue(v)
		if text != "" && b64 != "" {
			t.Errorf("%q: both encodings", v)
		}
		got, err := DecodeValue(text, b64)
		if err != nil || !bytes.Equal(got, v) && len(v) > 0 {
			t.Errorf("%q -> %q %q -> %q %v", v, text, b64, got, err)
		}
	}
	if _, err := DecodeValue("x", "eA=="); err == nil {
		t.Error("both set accepted")
	}
}

func TestBlockWrites(t *testing.T) {
	k, _ := security.GenerateKey()
	sign := func(ops ...types.Op) []byte {
		tx, err := security.SignTx(&types.TxBody{ChainId: "c", Nonce: 1, ValidUntilHeight: 9, Ops: ops}, k)
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	put := typestest.Put
	txs := [][]byte{
		sign(put("a", "1"), put("b", "2"), put("a", "3")),
		sign(put("x", "no")), // failed: no writes reported
		sign(typestest.Delete("b")),
	}
	res := func(code uint32, ws ...types.Write) *abcitypes.ExecTxResult {
		d, _ := (&types.TxResult{Writes: ws}).Marshal()
		return &abcitypes.ExecTxResult{Code: code, Data: d}
	}
	v := types.Version{Height: 5}
	results := []*abcitypes.ExecTxResult{
		res(0, types.Write{Key: "a", Version: v}, types.Write{Key: "b", Version: v}),
		res(9),
		res(0, types.Write{Key: "b", Version: types.Version{Height: 5, TxIndex: 2}, Deleted: true}),
	}
	evs := BlockWrites(5, time.Unix(1, 0), txs, results)
	want := []struct{ id, key, op, value string }{{"5.0.0", "a", "put", "3"}, {"5.0.1", "b", "put", "2"}, {"5.2.0", "b", "delete", ""}}
	if len(evs) != len(want) {
		t.Fatalf("%d events: %+v", len(evs), evs)
	}
	for i, w := range want {
		e := evs[i]
		if e.ID != w.id || e.Key != w.key || e.Op != w.op || e.Value != w.value || e.TxHash != types.TxHashHex(txs[e.TxIndex]) {
			t.Errorf("event %d: %+v, want %+v", i, e, w)
		}
	}
}

// A TxOutcome has an index exactly when it has a height (index 0
// included), and round-trips.
func TestTxOutcomeIndexOnlyWithHeight(t *testing.T) {
	for _, tc := range []struct {
		o    TxOutcome
		want string
	}{
		{TxOutcome{Hash: "A", Status: StatusAdmitted, CodeName: "OK"}, `{"hash":"A","status":"admitted","code":0,"code_name":"OK"}`},
		{TxOutcome{Hash: "A", Status: StatusCommitted, CodeName: "OK", Height: 7}, `{"hash":"A","status":"committed","code":0,"code_name":"OK","height":7,"index":0}`},
		{TxOutcome{Hash: "A", Status: StatusFailed, Code: 9, CodeName: "CONFLICT", Height: 7, Index: 3}, `{"hash":"A","status":"failed","code":9,"code_name":"CONFLICT","height":7,"index":3}`},
	} {
		b, err := json.Marshal(tc.o)
		if err != nil || string(b) != tc.want {
			t.Errorf("%+v: %s %v, want %s", tc.o, b, err, tc.want)
		}
		var back TxOutcome
		if err := json.Unmarshal(b, &back); err != nil || back.Height != tc.o.Height || back.Index != tc.o.Index || back.CodeName != tc.o.CodeName {
			t.Errorf("round trip of %s: %+v %v", b, back, err)
		}
	}
}
