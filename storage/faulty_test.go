package storage

import (
	"errors"
	"testing"
)

func TestFaultyStore(t *testing.T) {
	s := NewFaultyStore(NewInMemoryStore())
	b := Batch{Height: 1, Writes: []Entry{{Key: []byte("k"), Value: []byte("v"), Version: Version{Height: 1}}}}
	s.Inject(FaultCommit, 0)
	if err := s.Commit(b); !errors.Is(err, ErrInjected) {
		t.Fatalf("armed commit: %v", err)
	}
	if h, _, err := s.Last(); err != nil || h != 0 {
		t.Fatalf("a failed commit wrote: height %d, %v", h, err)
	}
	s.Heal()
	if err := s.Commit(b); err != nil {
		t.Fatal(err)
	}
	s.Inject(FaultReads, 1)
	if _, ok, err := s.Get([]byte("k"), 0); err != nil || !ok {
		t.Fatalf("first read is let through: %v %v", ok, err)
	}
	if _, _, err := s.Get([]byte("k"), 0); !errors.Is(err, ErrInjected) {
		t.Fatalf("second read: %v", err)
	}
	if err := s.Scan([]byte("k"), 0, func(Entry) bool { t.Fatal("scan called fn"); return false }); !errors.Is(err, ErrInjected) {
		t.Fatalf("scan: %v", err)
	}
	if s.Fired() != 2 {
		t.Fatalf("fired %d, want 2", s.Fired())
	}
}
