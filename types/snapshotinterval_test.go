package types

import (
	"errors"
	"testing"
)

// TestSnapshotIntervalBound: SetSnapshotInterval and the genesis param
// take 0 (off) up to MaxSnapshotInterval; above it, or an empty op, is
// INVALID_OP (and ErrBadParams in genesis).
func TestSnapshotIntervalBound(t *testing.T) {
	lim := DefaultParams().Limits()
	for _, c := range []struct {
		op   *SetSnapshotInterval
		want Code
	}{
		{&SetSnapshotInterval{}, CodeOK},
		{&SetSnapshotInterval{SnapshotInterval: 1}, CodeOK},
		{&SetSnapshotInterval{SnapshotInterval: MaxSnapshotInterval}, CodeOK},
		{&SetSnapshotInterval{SnapshotInterval: MaxSnapshotInterval + 1}, CodeInvalidOp},
		{&SetSnapshotInterval{SnapshotInterval: 1<<64 - 1}, CodeInvalidOp},
		{nil, CodeInvalidOp},
	} {
		op := Op{Sum: &Op_SetSnapshotInterval{SetSnapshotInterval: c.op}}
		if got, msg := checkOp(&op, lim); got != c.want {
			t.Errorf("%v: %s %q, want %s", c.op, got.Name(), msg, c.want.Name())
		}
		if !IsGovOp(&op) {
			t.Errorf("%v is not a governance op", c.op)
		}
	}
	p := DefaultParams()
	p.SnapshotInterval = MaxSnapshotInterval
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	p.SnapshotInterval++
	if err := p.Validate(); !errors.Is(err, ErrBadParams) {
		t.Fatalf("genesis snapshot_interval above the bound: %v", err)
	}
}
