package audit

import (
	"errors"
	"testing"
)

func TestVerifyGood(t *testing.T) {
	es := chained(30)
	if err := Verify(es, ChainHead{}); err != nil {
		t.Fatal(err)
	}
	// From the middle, with the head before as the trusted start.
	if err := Verify(es[10:], ChainHead{Seq: 10, Hash: es[9].Hash}); err != nil {
		t.Fatal(err)
	}
	if err := VerifyAnchored(es, ChainHead{}, ChainHead{Seq: 30, Hash: es[29].Hash}); err != nil {
		t.Fatal(err)
	}
	// Entries past the anchor are fine (newer than what the validators signed so far).
	if err := VerifyAnchored(es, ChainHead{}, ChainHead{Seq: 20, Hash: es[19].Hash}); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyTamper: each kind of tampering with a stored chain is caught,
// at the first bad seq.
func TestVerifyTamper(t *testing.T) {
	const n = 30
	anchor := func(es []Entry) ChainHead { return ChainHead{Seq: n, Hash: es[n-1].Hash} }
	cases := []struct {
		name    string
		tamper  func(es []Entry) []Entry
		wantSeq uint64
		wantErr error
	}{
		{"edit message", func(es []Entry) []Entry { es[11].Message = "nothing to see"; return es }, 12, ErrHash},
		{"edit code", func(es []Entry) []Entry { es[3].Code = 0; return es }, 4, ErrHash},
		{"edit resources", func(es []Entry) []Entry { es[7].Resources = append(es[7].Resources, "x"); return es }, 8, ErrHash},
		{"edit time", func(es []Entry) []Entry { es[0].Time = es[0].Time.Add(1); return es }, 1, ErrHash},
		{"edit and rehash", func(es []Entry) []Entry {
			es[11].Actor = "someone else"
			es[11].Hash = es[11].ComputeHash()
			return es
		}, 13, ErrLink},
		{"edit and rehash the rest", func(es []Entry) []Entry {
			es[11].Actor = "someone else"
			c := NewChain(ChainHead{Seq: 11, Hash: es[10].Hash})
			for i := 11; i < n; i++ {
				es[i] = c.Append(es[i])
			}
			return es
		}, n, ErrHead},
		{"delete", func(es []Entry) []Entry { return append(es[:16:16], es[17:]...) }, 17, ErrGap},
		{"delete first", func(es []Entry) []Entry { return es[1:] }, 1, ErrGap},
		{"reorder", func(es []Entry) []Entry { es[20], es[21] = es[21], es[20]; return es }, 21, ErrOrder},
		{"duplicate", func(es []Entry) []Entry { return append(es[:6:6], append([]Entry{es[4]}, es[6:]...)...) }, 7, ErrOrder},
		{"truncate", func(es []Entry) []Entry { return es[:25] }, 26, ErrTruncated},
		{"truncate all", func(es []Entry) []Entry { return nil }, 1, ErrTruncated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			es := chained(n)
			a := anchor(es)
			got := tc.tamper(es)
			err := VerifyAnchored(got, ChainHead{}, a)
			seq, ok := FirstBadSeq(err)
			if !ok {
				t.Fatalf("not detected: %v", err)
			}
			if seq != tc.wantSeq || !errors.Is(err, tc.wantErr) {
				t.Fatalf("got seq %d, %v; want seq %d, %v", seq, err, tc.wantSeq, tc.wantErr)
			}
		})
	}
}

func TestVerifierStreaming(t *testing.T) {
	es := chained(10)
	v := NewVerifier(ChainHead{})
	v.Anchor(ChainHead{Seq: 10, Hash: es[9].Hash})
	for i := range es {
		if err := v.Add(&es[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Finish(); err != nil {
		t.Fatal(err)
	}
	if h := v.Head(); h.Seq != 10 {
		t.Fatalf("head %v", h)
	}
	// An anchor at or below the start is already satisfied.
	v = NewVerifier(ChainHead{Seq: 10, Hash: es[9].Hash})
	v.Anchor(ChainHead{Seq: 10, Hash: es[9].Hash})
	if err := v.Finish(); err != nil {
		t.Fatal(err)
	}
	// Errors stick.
	v = NewVerifier(ChainHead{})
	bad := es[0]
	bad.Message = "x"
	if v.Add(&bad) == nil || v.Add(&es[1]) == nil || v.Finish() == nil {
		t.Fatal("error did not stick")
	}
}
