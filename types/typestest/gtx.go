package typestest

import (
	"fmt"
	"testing"

	"github.com/dstt/dstt/types"
)

// RegisterParticipant is the op that registers participant id of org with
// the named test key and endpoint http://ID.test/.
func RegisterParticipant(id, org, key string) types.Op {
	return types.Op{Sum: &types.Op_RegisterParticipant{RegisterParticipant: &types.RegisterParticipant{
		Id: id, Org: org, PubKey: Key(key).PubKey(), Endpoint: "http://" + id + ".test/",
	}}}
}

// Saga is a BeginGtx in saga mode with one branch per participant, whose
// payloads name the gid, branch and op ("g1/0/action").
func Saga(gid string, deadlineUnixMs int64, participants ...string) *types.BeginGtx {
	b := &types.BeginGtx{Gid: gid, Mode: types.GtxMode_GTX_MODE_SAGA, DeadlineUnixMs: deadlineUnixMs}
	for i, p := range participants {
		b.Branches = append(b.Branches, types.GtxBranch{
			Participant: p,
			Action:      []byte(fmt.Sprintf("%s/%d/action", gid, i)),
			Compensate:  []byte(fmt.Sprintf("%s/%d/compensate", gid, i)),
		})
	}
	return b
}

// TCC is a BeginGtx in TCC mode, payloads as in Saga.
func TCC(gid string, deadlineUnixMs int64, participants ...string) *types.BeginGtx {
	b := &types.BeginGtx{Gid: gid, Mode: types.GtxMode_GTX_MODE_TCC, DeadlineUnixMs: deadlineUnixMs}
	for i, p := range participants {
		b.Branches = append(b.Branches, types.GtxBranch{
			Participant: p,
			Try:         []byte(fmt.Sprintf("%s/%d/try", gid, i)),
			Confirm:     []byte(fmt.Sprintf("%s/%d/confirm", gid, i)),
			Cancel:      []byte(fmt.Sprintf("%s/%d/cancel", gid, i)),
		})
	}
	return b
}

// Begin is the op that begins b.
func Begin(b *types.BeginGtx) types.Op {
	return types.Op{Sum: &types.Op_BeginGtx{BeginGtx: b}}
}

// Answer is the op that answers step branch/op at attempt of gtx b, signed
// by the named test key as participant participant over payload (the
// payload the participant ran).
func Answer(t testing.TB, chainID string, b *types.BeginGtx, branch uint32, op types.GtxOp, attempt uint32,
	status types.GtxStatus, key string) types.Op {
	t.Helper()
	br := b.Branches[branch]
	return AnswerOver(t, chainID, b.Gid, br.Participant, branch, op, attempt, br.Payload(op), status, nil, key)
}

// AnswerOver is Answer with every signed field given.
func AnswerOver(t testing.TB, chainID, gid, participant string, branch uint32, op types.GtxOp, attempt uint32,
	payload []byte, status types.GtxStatus, result []byte, key string) types.Op {
	t.Helper()
	msg := types.GtxAnswerSignBytes(chainID, gid, participant, branch, op, attempt, types.GtxPayloadHash(payload), status, result)
	sig, err := Key(key).Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	return types.Op{Sum: &types.Op_GtxAnswer{GtxAnswer: &types.GtxAnswer{
		Gid: gid, Branch: branch, Op: op, Attempt: attempt, Status: status, Result: result,
		PubKey: Key(key).PubKey(), Signature: sig,
	}}}
}
