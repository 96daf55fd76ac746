package types_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"testing"

	"github.com/dstt/dstt/types"
)

// The wire vectors of the ops after remove_org (Op fields 12-16 and
// 20-24): their JSON form in the vector file, and their specs. Enums are
// written as their numbers (gtx.proto).

type jsonNode struct {
	NodeID string `json:"node_id"`
	Org    string `json:"org"`
}
type jsonSetRetention struct {
	RetainHeights string `json:"retain_heights"`
	RetainSeconds string `json:"retain_seconds"`
}
type jsonAuditAnchor struct {
	Seq        string `json:"seq"`
	HashHex    string `json:"hash_hex"`
	PruneBelow string `json:"prune_below"`
}
type jsonSnapshotInterval struct {
	SnapshotInterval string `json:"snapshot_interval"`
}
type jsonRegisterParticipant struct {
	ID        string `json:"id"`
	Org       string `json:"org"`
	PubKeyHex string `json:"pub_key_hex"`
	Endpoint  string `json:"endpoint"`
}
type jsonIDOnly struct {
	ID string `json:"id"`
}
type jsonGidOnly struct {
	Gid string `json:"gid"`
}
type jsonGtxBranch struct {
	Participant   string `json:"participant"`
	ActionHex     string `json:"action_hex"`
	CompensateHex string `json:"compensate_hex"`
	TryHex        string `json:"try_hex"`
	ConfirmHex    string `json:"confirm_hex"`
	CancelHex     string `json:"cancel_hex"`
}
type jsonGtxWrite struct {
	Key      string `json:"key"`
	ValueHex string `json:"value_hex"`
	Delete   bool   `json:"delete"`
}
type jsonBeginGtx struct {
	Gid            string          `json:"gid"`
	Mode           int32           `json:"mode"`
	Branches       []jsonGtxBranch `json:"branches"`
	DeadlineUnixMs string          `json:"deadline_unix_ms"`
	CommitWrites   []jsonGtxWrite  `json:"commit_writes"`
}
type jsonGtxAnswer struct {
	Gid          string `json:"gid"`
	Branch       uint32 `json:"branch"`
	Op           int32  `json:"op"`
	Attempt      uint32 `json:"attempt"`
	Status       int32  `json:"status"`
	ResultHex    string `json:"result_hex"`
	PubKeyHex    string `json:"pub_key_hex"`
	SignatureHex string `json:"signature_hex"`
}

var hx = hex.EncodeToString

// laterOpToJSON fills j from an op of fields 12-24; false for any other op.
func laterOpToJSON(op types.Op, j *jsonOp) bool {
	switch o := op.Sum.(type) {
	case *types.Op_RegisterNode:
		j.RegisterNode = &jsonNode{o.RegisterNode.NodeId, o.RegisterNode.Org}
	case *types.Op_RemoveNode:
		j.RemoveNode = &jsonNode{o.RemoveNode.NodeId, o.RemoveNode.Org}
	case *types.Op_SetRetention:
		j.SetRetention = &jsonSetRetention{u64(o.SetRetention.RetainHeights), u64(o.SetRetention.RetainSeconds)}
	case *types.Op_AuditAnchor:
		a := o.AuditAnchor
		j.AuditAnchor = &jsonAuditAnchor{u64(a.Seq), hx(a.Hash), u64(a.PruneBelow)}
	case *types.Op_SetSnapshotInterval:
		j.SetSnapshotInterval = &jsonSnapshotInterval{u64(o.SetSnapshotInterval.SnapshotInterval)}
	case *types.Op_RegisterParticipant:
		r := o.RegisterParticipant
		j.RegisterParticipant = &jsonRegisterParticipant{r.Id, r.Org, hx(r.PubKey), r.Endpoint}
	case *types.Op_RemoveParticipant:
		j.RemoveParticipant = &jsonIDOnly{o.RemoveParticipant.Id}
	case *types.Op_BeginGtx:
		b := o.BeginGtx
		jb := &jsonBeginGtx{Gid: b.Gid, Mode: int32(b.Mode), Branches: []jsonGtxBranch{}, DeadlineUnixMs: strconv.FormatInt(b.DeadlineUnixMs, 10), CommitWrites: []jsonGtxWrite{}}
		for _, br := range b.Branches {
			jb.Branches = append(jb.Branches, jsonGtxBranch{br.Participant, hx(br.Action), hx(br.Compensate), hx(br.Try), hx(br.Confirm), hx(br.Cancel)})
		}
		for _, w := range b.CommitWrites {
			jb.CommitWrites = append(jb.CommitWrites, jsonGtxWrite{w.Key, hx(w.Value), w.Delete})
		}
		j.BeginGtx = jb
	case *types.Op_GtxAnswer:
		a := o.GtxAnswer
		j.GtxAnswer = &jsonGtxAnswer{a.Gid, a.Branch, int32(a.Op), a.Attempt, int32(a.Status), hx(a.Result), hx(a.PubKey), hx(a.Signature)}
	case *types.Op_GtxDeadline:
		j.GtxDeadline = &jsonGidOnly{o.GtxDeadline.Gid}
	default:
		return false
	}
	return true
}

// laterOpFromJSON sets op from o's members of fields 12-24 and returns how
// many it found.
func laterOpFromJSON(t *testing.T, o jsonOp, op *types.Op) int {
	t.Helper()
	n := 0
	set := func(o types.Op) {
		n++
		*op = o
	}
	if r := o.RegisterNode; r != nil {
		set(types.Op{Sum: &types.Op_RegisterNode{RegisterNode: &types.RegisterNode{NodeId: r.NodeID, Org: r.Org}}})
	}
	if r := o.RemoveNode; r != nil {
		set(types.Op{Sum: &types.Op_RemoveNode{RemoveNode: &types.RemoveNode{NodeId: r.NodeID, Org: r.Org}}})
	}
	if r := o.SetRetention; r != nil {
		set(types.Op{Sum: &types.Op_SetRetention{SetRetention: &types.SetRetention{RetainHeights: mustU64(t, r.RetainHeights), RetainSeconds: mustU64(t, r.RetainSeconds)}}})
	}
	if a := o.AuditAnchor; a != nil {
		set(types.Op{Sum: &types.Op_AuditAnchor{AuditAnchor: &types.AuditAnchor{Seq: mustU64(t, a.Seq), Hash: mustHex(t, a.HashHex), PruneBelow: mustU64(t, a.PruneBelow)}}})
	}
	if s := o.SetSnapshotInterval; s != nil {
		set(types.Op{Sum: &types.Op_SetSnapshotInterval{SetSnapshotInterval: &types.SetSnapshotInterval{SnapshotInterval: mustU64(t, s.SnapshotInterval)}}})
	}
	if r := o.RegisterParticipant; r != nil {
		set(types.Op{Sum: &types.Op_RegisterParticipant{RegisterParticipant: &types.RegisterParticipant{Id: r.ID, Org: r.Org, PubKey: mustHex(t, r.PubKeyHex), Endpoint: r.Endpoint}}})
	}
	if r := o.RemoveParticipant; r != nil {
		set(types.Op{Sum: &types.Op_RemoveParticipant{RemoveParticipant: &types.RemoveParticipant{Id: r.ID}}})
	}
	if b := o.BeginGtx; b != nil {
		set(types.Op{Sum: &types.Op_BeginGtx{BeginGtx: beginGtxFromJSON(t, b)}})
	}
	if a := o.GtxAnswer; a != nil {
		set(types.Op{Sum: &types.Op_GtxAnswer{GtxAnswer: &types.GtxAnswer{Gid: a.Gid, Branch: a.Branch, Op: types.GtxOp(a.Op), Attempt: a.Attempt,
			Status: types.GtxStatus(a.Status), Result: mustHex(t, a.ResultHex), PubKey: mustHex(t, a.PubKeyHex), Signature: mustHex(t, a.SignatureHex)}}})
	}
	if g := o.GtxDeadline; g != nil {
		set(types.Op{Sum: &types.Op_GtxDeadline{GtxDeadline: &types.GtxDeadline{Gid: g.Gid}}})
	}
	return n
}

func beginGtxFromJSON(t *testing.T, b *jsonBeginGtx) *types.BeginGtx {
	t.Helper()
	ms, err := strconv.ParseInt(b.DeadlineUnixMs, 10, 64)
	if err != nil {
		t.Fatalf("deadline_unix_ms %q: %v", b.DeadlineUnixMs, err)
	}
	g := &types.BeginGtx{Gid: b.Gid, Mode: types.GtxMode(b.Mode), DeadlineUnixMs: ms}
	for _, br := range b.Branches {
		g.Branches = append(g.Branches, types.GtxBranch{Participant: br.Participant, Action: mustHex(t, br.ActionHex), Compensate: mustHex(t, br.CompensateHex),
			Try: mustHex(t, br.TryHex), Confirm: mustHex(t, br.ConfirmHex), Cancel: mustHex(t, br.CancelHex)})
	}
	for _, w := range b.CommitWrites {
		g.CommitWrites = append(g.CommitWrites, types.GtxWrite{Key: w.Key, Value: mustHex(t, w.ValueHex), Delete: w.Delete})
	}
	return g
}

// laterOpSpecs are the tx vectors of the ops of fields 12-24. Fields 16
// and up take a two-byte tag (82 01 for set_snapshot_interval).
func laterOpSpecs(keys map[string]wireSigner, body func(nonce, until uint64, memo string, ops ...types.Op) types.TxBody) []txSpec {
	carol := keys["carol"]
	nodeID := func(name string) string {
		h := sha256.Sum256([]byte("dstt/wire/node/" + name))
		return hx(h[:20])
	}
	entryHash := sha256.Sum256([]byte("dstt/wire/audit-entry/42"))
	action, compensate := []byte(`{"debit":100}`), []byte(`{"credit":100}`)
	answer := func(branch uint32, gop types.GtxOp, attempt uint32, payload []byte, st types.GtxStatus, result []byte) types.Op {
		ph := sha256.Sum256(payload)
		sb := types.GtxAnswerSignBytes(wireChain, "t-1001", "bank1-ledger", branch, gop, attempt, ph[:], st, result)
		return types.Op{Sum: &types.Op_GtxAnswer{GtxAnswer: &types.GtxAnswer{Gid: "t-1001", Branch: branch, Op: gop, Attempt: attempt, Status: st,
			Result: result, PubKey: carol.pub, Signature: ed25519.Sign(carol.priv, sb)}}}
	}
	saga := &types.BeginGtx{Gid: "t-1001", Mode: types.GtxMode_GTX_MODE_SAGA, DeadlineUnixMs: 1735689660000,
		Branches:     []types.GtxBranch{{Participant: "bank1-ledger", Action: action, Compensate: compensate}, {Participant: "bank2-ledger", Action: []byte(`{"credit":100}`)}},
		CommitWrites: []types.GtxWrite{{Key: "transfers/t-1001", Value: []byte("done")}, {Key: "pending/t-1001", Delete: true}}}
	tcc := &types.BeginGtx{Gid: "t-1002", Mode: types.GtxMode_GTX_MODE_TCC, DeadlineUnixMs: 1735689720000,
		Branches: []types.GtxBranch{{Participant: "bank1-ledger", Try: []byte("hold 5"), Confirm: []byte("take 5"), Cancel: []byte("release 5")}}}
	one := []string{"alice"}
	two := []string{"alice", "bob"}
	return []txSpec{
		{"register-node", wireChain, one, body(40, 1000, "", types.Op{Sum: &types.Op_RegisterNode{RegisterNode: &types.RegisterNode{NodeId: nodeID("a"), Org: "bank1"}}})},
		{"remove-node", wireChain, one, body(41, 1000, "", types.Op{Sum: &types.Op_RemoveNode{RemoveNode: &types.RemoveNode{NodeId: nodeID("a"), Org: "bank1"}}})},
		{"set-retention", wireChain, two, body(42, 1000, "", types.Op{Sum: &types.Op_SetRetention{SetRetention: &types.SetRetention{RetainHeights: 100000, RetainSeconds: 30 * 86400}}})},
		{"set-retention-keep-every-version", wireChain, one, body(43, 1000, "", types.Op{Sum: &types.Op_SetRetention{SetRetention: &types.SetRetention{}}})},
		{"audit-anchor", wireChain, two, body(44, 1000, "", types.Op{Sum: &types.Op_AuditAnchor{AuditAnchor: &types.AuditAnchor{Seq: 42, Hash: entryHash[:], PruneBelow: 40}}})},
		{"audit-prune-only", wireChain, one, body(45, 1000, "", types.Op{Sum: &types.Op_AuditAnchor{AuditAnchor: &types.AuditAnchor{PruneBelow: 10}}})},
		{"set-snapshot-interval", wireChain, two, body(46, 1000, "", types.Op{Sum: &types.Op_SetSnapshotInterval{SetSnapshotInterval: &types.SetSnapshotInterval{SnapshotInterval: 1000}}})},
		{"set-snapshot-interval-off", wireChain, one, body(47, 1000, "", types.Op{Sum: &types.Op_SetSnapshotInterval{SetSnapshotInterval: &types.SetSnapshotInterval{}}})},
		{"register-participant", wireChain, one, body(48, 1000, "", types.Op{Sum: &types.Op_RegisterParticipant{RegisterParticipant: &types.RegisterParticipant{
			Id: "bank1-ledger", Org: "bank1", PubKey: carol.pub, Endpoint: "https://ledger.bank1.example/gtx"}}})},
		{"remove-participant", wireChain, one, body(49, 1000, "", types.Op{Sum: &types.Op_RemoveParticipant{RemoveParticipant: &types.RemoveParticipant{Id: "bank1-ledger"}}})},
		{"begin-gtx-saga", wireChain, one, body(50, 1000, "", types.Op{Sum: &types.Op_BeginGtx{BeginGtx: saga}})},
		{"begin-gtx-tcc", wireChain, one, body(51, 1000, "", types.Op{Sum: &types.Op_BeginGtx{BeginGtx: tcc}})},
		{"gtx-answer", wireChain, []string{"bob"}, body(52, 1000, "", answer(0, types.GtxOp_GTX_OP_COMPENSATE, 2, compensate, types.GtxStatus_GTX_STATUS_SUCCEEDED, []byte("ok")))},
		{"gtx-answer-failed", wireChain, []string{"bob"}, body(53, 1000, "", answer(0, types.GtxOp_GTX_OP_ACTION, 1, action, types.GtxStatus_GTX_STATUS_FAILED, nil))},
		{"gtx-deadline", wireChain, []string{"bob"}, body(54, 1000, "", types.Op{Sum: &types.Op_GtxDeadline{GtxDeadline: &types.GtxDeadline{Gid: "t-1001"}}})},
	}
}
