package audit

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for _, e := range append(chained(20), Entry{}, Entry{Seq: 1, Kind: KindNodeStarted, Time: time.Unix(1, 5).UTC()}) {
		got, err := Decode(e.Encode())
		if err != nil {
			t.Fatalf("seq %d: %v", e.Seq, err)
		}
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("round trip changed the entry:\n got %+v\nwant %+v", got, e)
		}
	}
}

// TestEncodingGolden pins the canonical encoding and hash: changing either
// forks every chain, so it must be a deliberate, versioned change.
func TestEncodingGolden(t *testing.T) {
	e := Entry{
		Seq: 1, Height: 7, TxIndex: 2, Time: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC),
		Kind: KindTxCommitted, Actor: "ab", Action: "put", Resources: []string{"k1", "k2"},
		Code: 0, CodeName: "OK", Message: "m", TxHash: []byte{0xAA},
	}
	const wantBody = "01010702" + "1816c11eeef33206" + "0c74785f636f6d6d6974746564" + "026162" + "03707574" +
		"02" + "026b31" + "026b32" + "00" + "024f4b" + "016d" + "01aa" + "00"
	if got := hex.EncodeToString(e.EncodeBody()); got != wantBody {
		t.Fatalf("body:\n got %s\nwant %s", got, wantBody)
	}
	const wantHash = "2341be35d92139dbcd5198379ea2dbad5eecd46b139a533cfd42f84140fc6e81"
	if got := hex.EncodeToString(e.ComputeHash()); got != wantHash {
		t.Fatalf("hash: got %s, want %s", got, wantHash)
	}
}

// TestEncodingEndpoint: an entry with an Endpoint (node chain) is version
// 2, the same body with lp Endpoint at the end; it round-trips, and one
// without keeps version 1's bytes.
func TestEncodingEndpoint(t *testing.T) {
	e := Entry{Seq: 1, Kind: KindAuthFailed, Actor: "cert:ab", Endpoint: "2001:db8::7", Code: 11, CodeName: "UNAUTHORIZED"}
	body := e.EncodeBody()
	plain := e
	plain.Endpoint = ""
	want := append([]byte{2}, plain.EncodeBody()[1:]...)
	want = appendString(want, "2001:db8::7")
	if !bytes.Equal(body, want) {
		t.Fatalf("body:\n got %x\nwant %x", body, want)
	}
	if plain.EncodeBody()[0] != 1 {
		t.Fatal("an entry without an endpoint is not version 1")
	}
	e.Hash = e.ComputeHash()
	got, err := Decode(e.Encode())
	if err != nil || !reflect.DeepEqual(got, e) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if bytes.Equal(e.Hash, plain.ComputeHash()) {
		t.Fatal("the endpoint is not hashed")
	}
}

func TestDecodeRejects(t *testing.T) {
	good := chained(1)[0].Encode()
	cases := map[string][]byte{
		"empty":   nil,
		"version": append([]byte{3}, good[1:]...),
		"v2 without endpoint": func() []byte { // version 2 must carry a non-empty endpoint
			e := chained(1)[0]
			b := append([]byte{2}, e.EncodeBody()[1:]...)
			b = appendString(b, "")
			return appendBytes(b, e.Hash)
		}(),
		"truncated":   good[:len(good)-3],
		"trailing":    append(append([]byte(nil), good...), 0),
		"long varint": append([]byte{1, 0x81, 0x00}, good[2:]...), // seq 1 as a non-minimal varint
	}
	for name, in := range cases {
		if _, err := Decode(in); err == nil {
			t.Errorf("%s: decoded", name)
		} else if !errors.Is(err, ErrDecode) && !errors.Is(err, ErrNonCanonical) {
			t.Errorf("%s: unexpected error %v", name, err)
		}
	}
}

func TestChainAppend(t *testing.T) {
	c := NewChain(ChainHead{})
	if !c.Head().IsZero() {
		t.Fatal("new chain has a head")
	}
	es := sampleEntries(3)
	a := c.Append(es[0])
	b := c.Append(es[1])
	if a.Seq != 1 || b.Seq != 2 || len(a.PrevHash) != 0 || !bytes.Equal(b.PrevHash, a.Hash) {
		t.Fatalf("bad links: %+v %+v", a, b)
	}
	if h := c.Head(); h.Seq != 2 || !bytes.Equal(h.Hash, b.Hash) {
		t.Fatalf("head %v", h)
	}
	// Continuing from a head gives the same bytes as one long chain.
	c2 := NewChain(ChainHead{Seq: 1, Hash: a.Hash})
	if b2 := c2.Append(es[1]); !bytes.Equal(b2.Hash, b.Hash) {
		t.Fatal("continuing a chain from its head changed the hash")
	}
	// Time is normalised to UTC: the same instant in another zone hashes the same.
	e := es[2]
	e.Time = e.Time.In(time.FixedZone("X", 3600))
	if x, y := NewChain(ChainHead{}).Append(es[2]), NewChain(ChainHead{}).Append(e); !bytes.Equal(x.Hash, y.Hash) {
		t.Fatal("time zone changed the hash")
	}
}

func TestParseChainHead(t *testing.T) {
	es := chained(2)
	h := ChainHead{Seq: 2, Hash: es[1].Hash}
	got, err := ParseChainHead(h.String())
	if err != nil || !got.Equal(h) {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := ParseChainHead("0:"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "1", "x:00", "1:zz", "1:", "0:00", "2:0011"} {
		if _, err := ParseChainHead(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestAppHash(t *testing.T) {
	state := bytes.Repeat([]byte{1}, 32)
	es := chained(2)
	h1 := AppHash(state, ChainHead{Seq: 1, Hash: es[0].Hash})
	h2 := AppHash(state, ChainHead{Seq: 2, Hash: es[1].Hash})
	if len(h1) != 32 || bytes.Equal(h1, h2) {
		t.Fatal("app hash does not follow the audit head")
	}
	if !bytes.Equal(h1, AppHash(state, ChainHead{Seq: 1, Hash: es[0].Hash})) {
		t.Fatal("app hash is not deterministic")
	}
	if bytes.Equal(AppHash(state, ChainHead{}), AppHash(bytes.Repeat([]byte{2}, 32), ChainHead{})) {
		t.Fatal("app hash does not follow the state hash")
	}
}

func FuzzDecode(f *testing.F) {
	for _, e := range chained(8) {
		f.Add(e.Encode())
	}
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Decode(data)
		if err != nil {
			return
		}
		enc := e.Encode()
		if !bytes.Equal(enc, data) {
			t.Fatalf("decode→encode changed the bytes")
		}
		e2, err := Decode(enc)
		if err != nil || !reflect.DeepEqual(e, e2) {
			t.Fatalf("decode→encode→decode: %v", err)
		}
	})
}

func FuzzDecodeQueries(f *testing.F) {
	es := chained(3)
	f.Add(EntriesResponse{Head: ChainHead{Seq: 3, Hash: es[2].Hash}, Entries: es}.Encode())
	f.Add(HeadResponse{Height: 5, StateHash: es[0].Hash, Head: ChainHead{Seq: 3, Hash: es[2].Hash}}.Encode())
	f.Add(EntriesRequest{From: 5, Limit: 10}.Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		if r, err := DecodeEntriesResponse(data); err == nil {
			if _, err := DecodeEntriesResponse(r.Encode()); err != nil {
				t.Fatal(err)
			}
		}
		if r, err := DecodeHeadResponse(data); err == nil {
			if r2, err := DecodeHeadResponse(r.Encode()); err != nil || !reflect.DeepEqual(r, r2) {
				t.Fatal(err)
			}
		}
		if r, err := DecodeEntriesRequest(data); err == nil {
			if r2, err := DecodeEntriesRequest(r.Encode()); err != nil || r != r2 {
				t.Fatal(err)
			}
		}
	})
}

func TestAppendEncodedMatchesAppend(t *testing.T) {
	a, b := NewChain(ChainHead{}), NewChain(ChainHead{})
	for i := range 5 {
		e := Entry{Height: uint64(i), Kind: KindTxCommitted, Actor: "x", Action: "put", Resources: []string{"k", "j"}, TxHash: []byte{1, 2}, Time: time.Unix(int64(i), 7)}
		want := a.Append(e)
		got, enc := b.AppendEncoded(e)
		if string(got.Hash) != string(want.Hash) || string(enc) != string(want.Encode()) || got.Seq != want.Seq {
			t.Fatalf("entry %d: AppendEncoded differs from Append", i)
		}
	}
	if !a.Head().Equal(b.Head()) {
		t.Fatal("heads differ")
	}
}
