package audit

import (
	"context"
	"errors"
	"testing"
)

// TestVerifyPrunedChain: a chain read from a node that starts above seq 1
// verifies only when its verified part holds the committed audit anchor
// entry that pruned it exactly there; cutting the front without one, an
// anchor entry for another prune point, a refused one, or a put whose key
// looks like an anchor resource, fails with ErrPrunedStart.
func TestVerifyPrunedChain(t *testing.T) {
	anchorAt := func(e Entry, below uint64, code uint32) Entry {
		e.Action, e.Code, e.Resources = ActionAuditAnchor, code, []string{AnchorResource(5, make([]byte, 32), below)}
		return e
	}
	fakeKey := func(e Entry, below uint64, _ uint32) Entry {
		e.Resources = []string{AnchorResource(0, nil, below)} // a put of a key spelled like a resource
		return e
	}
	for _, c := range []struct {
		name  string
		edit  func(Entry, uint64, uint32) Entry
		below uint64
		code  uint32
		ok    bool
	}{
		{"anchor entry pruned here", anchorAt, 5, 0, true},
		{"no anchor entry", nil, 0, 0, false},
		{"anchor entry pruned elsewhere", anchorAt, 4, 0, false},
		{"refused anchor entry", anchorAt, 5, 26, false},
		{"a key spelled like the resource", fakeKey, 5, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			es := sampleEntries(12)
			if c.edit != nil {
				es[8] = c.edit(es[8], c.below, c.code)
			}
			full := NewInMemorySource()
			es = full.Append(es...)
			src := NewInMemorySource()
			src.Replace(es[4:]) // pruned below seq 5
			ctx := context.Background()
			from, err := lowestSeq(ctx, src)
			if err != nil || from != 5 {
				t.Fatalf("lowest seq %d, %v; want 5", from, err)
			}
			head := ChainHead{Seq: es[11].Seq, Hash: es[11].Hash}
			got, err := verifyUpTo(ctx, src, from, head, ChainHead{})
			switch {
			case c.ok && (err != nil || !got.Equal(head)):
				t.Fatalf("verify from 5: head %s, %v; want %s, nil", got, err, head)
			case !c.ok && !errors.Is(err, ErrPrunedStart):
				t.Fatalf("verify from 5: %v, want ErrPrunedStart", err)
			}
		})
	}
}

// FuzzParseAnchorResource: any string parses or is refused without a
// panic, and what parses is what AnchorResource writes back.
func FuzzParseAnchorResource(f *testing.F) {
	f.Add(AnchorResource(5, make([]byte, 32), 5))
	f.Add(AnchorResource(0, nil, 9))
	f.Add("audit_anchor:1:zz:2")
	f.Fuzz(func(t *testing.T, r string) {
		seq, hash, below, ok := ParseAnchorResource(r)
		if !ok {
			return
		}
		again := AnchorResource(seq, hash, below)
		s2, h2, b2, ok2 := ParseAnchorResource(again)
		if !ok2 || s2 != seq || string(h2) != string(hash) || b2 != below {
			t.Fatalf("%q parses to %d %x %d, written back as %q", r, seq, hash, below, again)
		}
	})
}
