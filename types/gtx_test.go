package types_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"testing"

	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// The answer sign bytes are WIRE.md §10.1's layout, pinned by a vector,
// and every field of the answer changes them.
func TestGtxAnswerSignBytes(t *testing.T) {
	payload := []byte(`{"debit":100}`)
	got := types.GtxAnswerSignBytes("dstt-dev", "t-1001", "bank1", 1, types.GtxOp_GTX_OP_COMPENSATE, 2,
		types.GtxPayloadHash(payload), types.GtxStatus_GTX_STATUS_SUCCEEDED, []byte("ok"))
	// Built here from the layout, independently of the function.
	lp := func(b []byte) []byte { return append(binary.AppendUvarint(nil, uint64(len(b))), b...) }
	ph := sha256.Sum256(payload)
	var msg []byte
	msg = append(msg, "dstt/gtx-answer/v1\x00"...)
	msg = append(msg, lp([]byte("dstt-dev"))...)
	msg = append(msg, lp([]byte("t-1001"))...)
	msg = append(msg, lp([]byte("bank1"))...)
	msg = append(msg, 1, 2, 2) // branch, op (compensate), attempt
	msg = append(msg, lp(ph[:])...)
	msg = append(msg, 1) // succeeded
	msg = append(msg, lp([]byte("ok"))...)
	want := sha256.Sum256(msg)
	if !bytes.Equal(got, want[:]) {
		t.Fatalf("sign bytes %x, the layout gives %x", got, want)
	}
	// The vector (for clients in other languages): these inputs give
	const vector = "a762a15db0ef84948d40c3adc7a80408d3251680eab6a3cfba61901f67c496bd"
	if hex.EncodeToString(got) != vector {
		t.Fatalf("sign bytes %x, the vector is %s", got, vector)
	}
	variants := [][]byte{
		types.GtxAnswerSignBytes("other", "t-1001", "bank1", 1, types.GtxOp_GTX_OP_COMPENSATE, 2, types.GtxPayloadHash(payload), types.GtxStatus_GTX_STATUS_SUCCEEDED, []byte("ok")),
		types.GtxAnswerSignBytes("dstt-dev", "t-1002", "bank1", 1, types.GtxOp_GTX_OP_COMPENSATE, 2, types.GtxPayloadHash(payload), types.GtxStatus_GTX_STATUS_SUCCEEDED, []byte("ok")),
		types.GtxAnswerSignBytes("dstt-dev", "t-1001", "bank2", 1, types.GtxOp_GTX_OP_COMPENSATE, 2, types.GtxPayloadHash(payload), types.GtxStatus_GTX_STATUS_SUCCEEDED, []byte("ok")),
		types.GtxAnswerSignBytes("dstt-dev", "t-1001", "bank1", 0, types.GtxOp_GTX_OP_COMPENSATE, 2, types.GtxPayloadHash(payload), types.GtxStatus_GTX_STATUS_SUCCEEDED, []byte("ok")),
		types.GtxAnswerSignBytes("dstt-dev", "t-1001", "bank1", 1, types.GtxOp_GTX_OP_ACTION, 2, types.GtxPayloadHash(payload), types.GtxStatus_GTX_STATUS_SUCCEEDED, []byte("ok")),
		types.GtxAnswerSignBytes("dstt-dev", "t-1001", "bank1", 1, types.GtxOp_GTX_OP_COMPENSATE, 1, types.GtxPayloadHash(payload), types.GtxStatus_GTX_STATUS_SUCCEEDED, []byte("ok")),
		types.GtxAnswerSignBytes("dstt-dev", "t-1001", "bank1", 1, types.GtxOp_GTX_OP_COMPENSATE, 2, types.GtxPayloadHash([]byte("x")), types.GtxStatus_GTX_STATUS_SUCCEEDED, []byte("ok")),
		types.GtxAnswerSignBytes("dstt-dev", "t-1001", "bank1", 1, types.GtxOp_GTX_OP_COMPENSATE, 2, types.GtxPayloadHash(payload), types.GtxStatus_GTX_STATUS_FAILED, []byte("ok")),
		types.GtxAnswerSignBytes("dstt-dev", "t-1001", "bank1", 1, types.GtxOp_GTX_OP_COMPENSATE, 2, types.GtxPayloadHash(payload), types.GtxStatus_GTX_STATUS_SUCCEEDED, []byte("ok!")),
		// Length prefixes: moving a byte between gid and participant changes them.
		types.GtxAnswerSignBytes("dstt-dev", "t-100", "1bank1", 1, types.GtxOp_GTX_OP_COMPENSATE, 2, types.GtxPayloadHash(payload), types.GtxStatus_GTX_STATUS_SUCCEEDED, []byte("ok")),
	}
	for i, v := range variants {
		if bytes.Equal(v, got) {
			t.Errorf("variant %d signs the same bytes", i)
		}
	}
}

// The stateless limits of the gtx ops: what one tx can make every
// validator hold is bounded before any state is read.
func TestGtxOpLimits(t *testing.T) {
	lim := types.DefaultParams().Limits()
	saga := func(mut func(b *types.BeginGtx)) types.Op {
		b := &types.BeginGtx{Gid: "g", Mode: types.GtxMode_GTX_MODE_SAGA, DeadlineUnixMs: 1,
			Branches: []types.GtxBranch{{Participant: "p", Action: []byte("a")}}}
		mut(b)
		return types.Op{Sum: &types.Op_BeginGtx{BeginGtx: b}}
	}
	answer := func(mut func(a *types.GtxAnswer)) types.Op {
		a := &types.GtxAnswer{Gid: "g", Op: types.GtxOp_GTX_OP_ACTION, Attempt: 1, Status: types.GtxStatus_GTX_STATUS_SUCCEEDED,
			PubKey: make([]byte, 32), Signature: make([]byte, 64)}
		mut(a)
		return types.Op{Sum: &types.Op_GtxAnswer{GtxAnswer: a}}
	}
	cases := []struct {
		name string
		op   types.Op
		want types.Code
	}{
		{"a valid saga", saga(func(*types.BeginGtx) {}), types.CodeOK},
		{"17 branches", saga(func(b *types.BeginGtx) {
			for range types.MaxGtxBranches {
				b.Branches = append(b.Branches, b.Branches[0])
			}
		}), types.CodeGtxLimit},
		{"a 16 KiB + 1 payload", saga(func(b *types.BeginGtx) { b.Branches[0].Compensate = make([]byte, types.MaxGtxPayloadBytes+1) }), types.CodeGtxLimit},
		{"a try in a saga", saga(func(b *types.BeginGtx) { b.Branches[0].Try = []byte("t") }), types.CodeGtxBadShape},
		{"no branch", saga(func(b *types.BeginGtx) { b.Branches = nil }), types.CodeGtxBadShape},
		{"no mode", saga(func(b *types.BeginGtx) { b.Mode = 0 }), types.CodeGtxBadShape},
		{"a gid with a slash", saga(func(b *types.BeginGtx) { b.Gid = "a/b" }), types.CodeGtxBadShape},
		{"17 commit writes", saga(func(b *types.BeginGtx) {
			for range types.MaxGtxCommitWrites + 1 {
				b.CommitWrites = append(b.CommitWrites, types.GtxWrite{Key: "k", Value: []byte("v")})
			}
		}), types.CodeGtxLimit},
		{"a valid answer", answer(func(*types.GtxAnswer) {}), types.CodeOK},
		{"a 4 KiB + 1 result", answer(func(a *types.GtxAnswer) { a.Result = make([]byte, types.MaxGtxResultBytes+1) }), types.CodeGtxLimit},
		{"attempt 0", answer(func(a *types.GtxAnswer) { a.Attempt = 0 }), types.CodeGtxBadShape},
		{"a short signature", answer(func(a *types.GtxAnswer) { a.Signature = a.Signature[:63] }), types.CodeGtxWrongSigner},
		{"op 6", answer(func(a *types.GtxAnswer) { a.Op = 6 }), types.CodeGtxBadShape},
	}
	for _, c := range cases {
		body := &types.TxBody{ChainId: typestest.Chain, Nonce: 1, ValidUntilHeight: 5, Ops: []types.Op{c.op}}
		tx := typestest.SignTx(t, body, typestest.Key("x"))
		lim.MaxTxBytes = 1 << 20
		if _, _, got, msg := types.ValidateTx(tx, typestest.Chain, lim); got != c.want {
			t.Errorf("%s: %s (%s), want %s", c.name, got.Name(), msg, c.want.Name())
		}
	}
}
