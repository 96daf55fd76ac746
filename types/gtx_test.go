package types_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"testing"

	"github.com/dstt/dstt/types"
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
