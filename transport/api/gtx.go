package api

import (
	"encoding/hex"
	"time"

	"github.com/dstt/dstt/types"
)

// Paths of the global-transaction (gtx) reads. Each answers JSON (the
// views below) or, with "Accept: application/x-protobuf", the node's
// protobuf answer (types.GtxList, types.Gtx, types.GtxPending,
// types.Participant), which the Go SDK reads.
const (
	PathGtxs            = "/v1/gtxs"              // GET ?after=GID&limit=N&open=true: a page of gtxs (GtxListView)
	PathGtxPending      = "/v1/gtx/pending"       // GET ?after=GID&limit=N&org=ORG: awaited steps (GtxPendingView)
	PathGtxParticipants = "/v1/gtx/participants/" // GET /v1/gtx/participants/{id}: a participant (ParticipantView)
)

// ContentTypeProtobuf asks a gtx read for the node's protobuf answer.
const ContentTypeProtobuf = "application/x-protobuf"

// GtxBranchView is one branch: its participant and the payload of each of
// its operations (base64; absent when empty).
type GtxBranchView struct {
	Participant string `json:"participant"`
	Action      []byte `json:"action,omitempty"`
	Compensate  []byte `json:"compensate,omitempty"`
	Try         []byte `json:"try,omitempty"`
	Confirm     []byte `json:"confirm,omitempty"`
	Cancel      []byte `json:"cancel,omitempty"`
}

// GtxWriteView is a ledger write applied when the gtx commits.
type GtxWriteView struct {
	Key    string `json:"key"`
	Value  []byte `json:"value,omitempty"`
	Delete bool   `json:"delete,omitempty"`
}

// GtxStepView is one step of a gtx's journal and its last answer.
type GtxStepView struct {
	Branch        uint32 `json:"branch"`
	Op            string `json:"op"`    // action, compensate, try, confirm, cancel
	State         string `json:"state"` // awaited, succeeded, failed, abandoned
	Attempt       uint32 `json:"attempt"`
	DueHeight     uint64 `json:"due_height"`
	Status        string `json:"status,omitempty"` // succeeded, failed: the last accepted answer
	Result        []byte `json:"result,omitempty"`
	Signer        string `json:"signer,omitempty"` // address of the participant key that signed it
	AnswerHeight  uint64 `json:"answer_height,omitempty"`
	AnswerTxIndex uint32 `json:"answer_tx_index,omitempty"`
	Submitter     string `json:"submitter,omitempty"` // address of the tx's signer (an executor)
}

// GtxView answers GET /v1/gtxs/{gid}: a gtx, its branches and journal.
type GtxView struct {
	Gid          string          `json:"gid"`
	Mode         string          `json:"mode"`  // saga, tcc
	Phase        string          `json:"phase"` // running, committing, aborting, committed, aborted
	Branches     []GtxBranchView `json:"branches"`
	CommitWrites []GtxWriteView  `json:"commit_writes,omitempty"`
	Deadline     string          `json:"deadline"` // RFC 3339 (UTC, ms), a block time
	DeadlineMs   int64           `json:"deadline_unix_ms"`
	Creator      string          `json:"creator"`
	BeginHeight  uint64          `json:"begin_height"`
	EndHeight    uint64          `json:"end_height,omitempty"`
	AbortReason  string          `json:"abort_reason,omitempty"` // failed, deadline
	AbortBranch  *uint32         `json:"abort_branch,omitempty"`
	Steps        []GtxStepView   `json:"steps"`
}

// GtxSummaryView is one gtx in a list.
type GtxSummaryView struct {
	Gid         string `json:"gid"`
	Mode        string `json:"mode"`
	Phase       string `json:"phase"`
	Creator     string `json:"creator"`
	BeginHeight uint64 `json:"begin_height"`
	EndHeight   uint64 `json:"end_height,omitempty"`
	Deadline    string `json:"deadline"`
	Branches    uint32 `json:"branches"`
}

// GtxListView answers GET /v1/gtxs.
type GtxListView struct {
	Gtxs []GtxSummaryView `json:"gtxs"`
	Next string           `json:"next,omitempty"` // pass as after for the next page
}

// GtxWorkView is one awaited step: what an executor sends the participant.
type GtxWorkView struct {
	Gid         string `json:"gid"`
	Branch      uint32 `json:"branch"`
	Op          string `json:"op"`
	Attempt     uint32 `json:"attempt"`
	Participant string `json:"participant"`
	Org         string `json:"org"`
	Endpoint    string `json:"endpoint"`
	Payload     []byte `json:"payload,omitempty"`
	Deadline    string `json:"deadline"`
	Mode        string `json:"mode"`
	DueHeight   uint64 `json:"due_height"`
}

// GtxPendingView answers GET /v1/gtx/pending.
type GtxPendingView struct {
	Work   []GtxWorkView `json:"work"`
	Next   string        `json:"next,omitempty"`
	Height uint64        `json:"height"`
}

// ParticipantView answers GET /v1/gtx/participants/{id}.
type ParticipantView struct {
	ID       string `json:"id"`
	Org      string `json:"org"`
	PubKey   string `json:"pub_key"` // hex
	Address  string `json:"address"` // of the key: what gtx step signers show
	Endpoint string `json:"endpoint"`
	Height   uint64 `json:"height"`
}

// MsTime renders a Unix-millisecond block time as RFC 3339 (UTC, ms).
func MsTime(ms int64) string { return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// GtxViewOf renders g.
func GtxViewOf(g *types.Gtx) GtxView {
	v := GtxView{
		Gid: g.Gid, Mode: types.GtxModeName(g.Mode), Phase: types.GtxPhaseName(g.Phase),
		Branches: make([]GtxBranchView, len(g.Branches)), Deadline: MsTime(g.DeadlineUnixMs), DeadlineMs: g.DeadlineUnixMs,
		Creator: g.Creator, BeginHeight: g.BeginHeight, EndHeight: g.EndHeight, AbortReason: g.AbortReason,
		Steps: make([]GtxStepView, len(g.Steps)),
	}
	if g.AbortReason != "" {
		b := g.AbortBranch
		v.AbortBranch = &b
	}
	for i, b := range g.Branches {
		v.Branches[i] = GtxBranchView{Participant: b.Participant, Action: b.Action, Compensate: b.Compensate, Try: b.Try, Confirm: b.Confirm, Cancel: b.Cancel}
	}
	for _, w := range g.CommitWrites {
		v.CommitWrites = append(v.CommitWrites, GtxWriteView{Key: w.Key, Value: w.Value, Delete: w.Delete})
	}
	for i, s := range g.Steps {
		v.Steps[i] = GtxStepView{
			Branch: s.Branch, Op: types.GtxOpName(s.Op), State: types.GtxStepStateName(s.State), Attempt: s.Attempt,
			DueHeight: s.DueHeight, Result: s.Result, Signer: s.Signer, AnswerHeight: s.AnswerHeight,
			AnswerTxIndex: s.AnswerTxIndex, Submitter: s.Submitter,
		}
		if s.Status != types.GtxStatus_GTX_STATUS_UNSPECIFIED {
			v.Steps[i].Status = types.GtxStatusName(s.Status)
		}
	}
	return v
}

// GtxListViewOf renders l.
func GtxListViewOf(l *types.GtxList) GtxListView {
	v := GtxListView{Gtxs: make([]GtxSummaryView, len(l.Gtxs)), Next: l.Next}
	for i, s := range l.Gtxs {
		v.Gtxs[i] = GtxSummaryView{
			Gid: s.Gid, Mode: types.GtxModeName(s.Mode), Phase: types.GtxPhaseName(s.Phase), Creator: s.Creator,
			BeginHeight: s.BeginHeight, EndHeight: s.EndHeight, Deadline: MsTime(s.DeadlineUnixMs), Branches: s.Branches,
		}
	}
	return v
}

// GtxPendingViewOf renders p.
func GtxPendingViewOf(p *types.GtxPending) GtxPendingView {
	v := GtxPendingView{Work: make([]GtxWorkView, len(p.Work)), Next: p.Next, Height: p.Height}
	for i, w := range p.Work {
		v.Work[i] = GtxWorkView{
			Gid: w.Gid, Branch: w.Branch, Op: types.GtxOpName(w.Op), Attempt: w.Attempt, Participant: w.Participant,
			Org: w.Org, Endpoint: w.Endpoint, Payload: w.Payload, Deadline: MsTime(w.DeadlineUnixMs),
			Mode: types.GtxModeName(w.Mode), DueHeight: w.DueHeight,
		}
	}
	return v
}

// ParticipantViewOf renders p.
func ParticipantViewOf(p *types.Participant) ParticipantView {
	return ParticipantView{ID: p.Id, Org: p.Org, PubKey: hex.EncodeToString(p.PubKey), Address: types.Address(p.PubKey), Endpoint: p.Endpoint, Height: p.Height}
}
