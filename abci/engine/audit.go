package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
)

// The consensus audit chain. Every tx in a block (whatever its outcome) and
// every punished misbehaviour gets an audit.Entry derived only from the
// block, appended to a hash chain kept in state. The app hash is
// audit.AppHash(state hash, audit head): the validators sign the audit
// chain's head with every commit, and a verifier holding the state hash can
// check any head against a signed header (audit.VerifyAgainstCommit).
//
// State: nsAudit + 8-byte big-endian seq -> audit entry encoding;
// headKey -> the state hash and audit head after the block that wrote it
// (an MVCC key, so a read at height H gives them as of H). Neither is part
// of the state hash.
const (
	nsAudit = 'a'
	nsHead  = 'h'
)

var headKey = []byte{nsHead}

func auditKey(seq uint64) []byte { return numberedKey(nsAudit, seq) }

// numberedKey is a namespace byte, then n as 8 big-endian bytes (so keys
// sort by n): audit entries by seq, commit times by height.
func numberedKey(ns byte, n uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{ns}, n)
}

// isDerived reports whether a storage key holds audit data, which the state
// hash leaves out.
func isDerived(key []byte) bool {
	if len(key) == 0 {
		return false
	}
	switch key[0] {
	case nsAudit, nsHead, nsCommitTime, nsSettled, nsBlockTime, nsDigest:
		return true
	}
	return false
}

func encodeHeadRecord(stateHash []byte, head audit.ChainHead) []byte {
	b := binary.AppendUvarint(nil, uint64(len(stateHash)))
	b = append(b, stateHash...)
	return append(b, encodeChainHead(head)...)
}

func decodeHeadRecord(v []byte) ([]byte, audit.ChainHead, error) {
	n, k := binary.Uvarint(v)
	if k <= 0 || uint64(len(v)-k) < n {
		return nil, audit.ChainHead{}, errors.New("abci: bad head record")
	}
	head, err := decodeChainHead(v[k+int(n):])
	if err != nil {
		return nil, audit.ChainHead{}, errors.New("abci: bad head record")
	}
	return v[k : k+int(n)], head, nil
}

func (e *Engine) loadHead() error {
	ent, ok, err := e.store.Get(headKey, 0)
	if err != nil || !ok {
		return err
	}
	if e.stateHash, e.head, err = decodeHeadRecord(ent.Value); err != nil {
		return err
	}
	return e.loadHeadHeight()
}

// auditEntry describes tx i of a block for the audit chain: codes and
// structured fields only, no Message (the chain's head is in the app hash;
// the words for a failure are rendered from the tx's stored result).
func auditEntry(b *Block, i int, d *decodedTx, out *Outcome) audit.Entry {
	ent := audit.Entry{
		Height: b.Height, TxIndex: uint32(i), Time: b.Time, Actor: out.Signer,
		Code: uint32(out.Code), CodeName: out.Code.Name(), TxHash: out.Hash,
	}
	if !d.verified { // not authenticated: name no actor
		ent.Actor = ""
	}
	kind := audit.KindTxCommitted
	switch out.Code {
	case types.CodeOK:
	case types.CodeUnauthorized:
		kind = audit.KindRBACDenied
	default:
		kind = audit.KindTxRejected
	}
	var actions []string
	ent.Resources = make([]string, 0, len(d.body.Ops))
	for j := range d.body.Ops {
		act, res := describeOp(&d.body.Ops[j])
		if !slices.Contains(actions, act) {
			actions = append(actions, act)
		}
		ent.Resources = append(ent.Resources, res)
		if out.Code == types.CodeOK {
			switch act {
			case "grant", "revoke", "policy":
				kind = audit.KindPolicyChanged
			case "add_validator", "remove_validator":
				kind = audit.KindValidatorChanged
			case "add_org", "remove_org", "register_node", "remove_node":
				if kind != audit.KindValidatorChanged {
					kind = audit.KindOrgChanged
				}
			}
		}
	}
	ent.Kind = kind
	switch len(actions) {
	case 0:
		ent.Action = "tx"
	case 1:
		ent.Action = actions[0]
	default:
		ent.Action = "batch"
	}
	return ent
}

// describeOp names an op's action and the resource it touches.
func describeOp(op *types.Op) (string, string) {
	switch o := op.Sum.(type) {
	case *types.Op_Put:
		return "put", o.Put.Key
	case *types.Op_Delete:
		return "delete", o.Delete.Key
	case *types.Op_Check:
		return "check", o.Check.Key
	case *types.Op_Grant:
		return "grant", fmt.Sprintf("role:%s@%s:%s", o.Grant.Role, o.Grant.Domain, o.Grant.Subject)
	case *types.Op_Revoke:
		return "revoke", fmt.Sprintf("role:%s@%s:%s", o.Revoke.Role, o.Revoke.Domain, o.Revoke.Subject)
	case *types.Op_Policy:
		return "policy", fmt.Sprintf("rule:%s@%s:%s:%s", o.Policy.Subject, o.Policy.Domain, o.Policy.Object, o.Policy.Action)
	case *types.Op_RotateKey:
		return "rotate_key", "key:" + types.Address(o.RotateKey.NewPubKey)
	case *types.Op_AddValidator:
		return "add_validator", "validator:" + types.Address(o.AddValidator.PubKey)
	case *types.Op_RemoveValidator:
		return "remove_validator", "validator:" + types.Address(o.RemoveValidator.PubKey)
	case *types.Op_AddOrg:
		return "add_org", "org:" + o.AddOrg.Id
	case *types.Op_RemoveOrg:
		return "remove_org", "org:" + o.RemoveOrg.Id
	case *types.Op_SetRetention:
		return "set_retention", "params:retention"
	case *types.Op_SetSnapshotInterval:
		return "set_snapshot_interval", fmt.Sprintf("params:snapshot_interval:%d", o.SetSnapshotInterval.SnapshotInterval)
	case *types.Op_AuditAnchor:
		return audit.ActionAuditAnchor, audit.AnchorResource(o.AuditAnchor.Seq, o.AuditAnchor.Hash, o.AuditAnchor.PruneBelow)
	case *types.Op_RegisterParticipant:
		return "register_participant", "participant:" + o.RegisterParticipant.Id
	case *types.Op_RemoveParticipant:
		return "remove_participant", "participant:" + o.RemoveParticipant.Id
	case *types.Op_BeginGtx:
		return "begin_gtx", "gtx:" + o.BeginGtx.Gid
	case *types.Op_GtxDeadline:
		return "gtx_deadline", "gtx:" + o.GtxDeadline.Gid
	case *types.Op_GtxAnswer:
		return "gtx_answer", fmt.Sprintf("gtx:%s/%d/%s", o.GtxAnswer.Gid, o.GtxAnswer.Branch, types.GtxOpName(o.GtxAnswer.Op))
	}
	if act, res, ok := nodeOpAction(op); ok {
		return act, res
	}
	return "unknown", ""
}

// stageAudit appends the block's audit entries and, when the block changed
// anything, the new head record; it returns the block's app hash.
func (e *Engine) stageAudit(st *staged, b *Block, ds []*decodedTx, res *BlockResult, evidence []audit.Entry) []byte {
	st.stateHash = nextStateHash(e.stateHash, b.Height, st.writes)
	if st.digest != nil {
		st.stateHash = digestStateHash(e.stateHash, b.Height, st.digest)
	}
	e.stageCommitTime(st, b)
	chain := audit.NewChain(e.head)
	ver := storage.Version{Height: st.height}
	add := func(ent audit.Entry) {
		ent, enc := chain.AppendEncoded(ent)
		st.writes = append(st.writes, storage.Entry{Key: auditKey(ent.Seq), Value: enc, Version: storage.Version{Height: st.height, Index: ent.TxIndex}})
	}
	for _, ev := range evidence {
		add(ev)
	}
	gtx := gtxAuditCursor{evs: st.gtxEvents}
	gtx.blockEntries(b, add)
	for i, d := range ds {
		add(auditEntry(b, i, d, &res.Txs[i]))
		gtx.txEntries(b, i, add)
	}
	st.head, st.headHeight = chain.Head(), e.headHeight
	if st.head.Seq != e.head.Seq {
		st.headHeight = b.Height
	}
	if st.head.Seq != e.head.Seq || string(st.stateHash) != string(e.stateHash) {
		st.writes = append(st.writes, storage.Entry{Key: headKey, Value: encodeHeadRecord(st.stateHash, st.head), Version: ver})
	}
	return audit.AppHash(st.stateHash, st.head)
}

// AuditEntries answers audit.QueryEntries: every committed entry, with
// its commit time once the next block has recorded it.
func (r Reader) AuditEntries(req audit.EntriesRequest) (audit.EntriesResponse, error) {
	es, err := readAuditEntries(r.e.store, req.From, int(min(req.Limit, audit.MaxPage)), r.e.head.Seq)
	return audit.EntriesResponse{Head: r.e.head, Entries: es}, err
}

// readAuditEntries reads up to limit (0: audit.DefaultPage, capped at
// audit.MaxPage) committed entries from seq from (0 = the lowest readable
// one) to upTo, with their commit times where recorded. From below the
// audit floor (auditanchor.go) is ErrPruned naming the lowest readable
// entry. A missing entry is an audit.ErrGap, an
// undecodable one an audit.ErrDecode or ErrNonCanonical.
func readAuditEntries(store storage.Store, from uint64, limit int, upTo uint64) ([]audit.Entry, error) {
	if limit <= 0 {
		limit = audit.DefaultPage
	}
	limit = min(limit, audit.MaxPage)
	floor, err := auditFloor(store)
	if err != nil {
		return nil, err
	}
	if from == 0 {
		from = floor
	} else if from < floor {
		return nil, prunedAuditErr(from, floor)
	}
	ct := commitTimes{store: store}
	var out []audit.Entry
	for seq := from; seq <= upTo && len(out) < limit; seq++ {
		ent, ok, err := store.Get(auditKey(seq), 0)
		if err != nil {
			return out, err
		}
		if !ok || ent.Deleted {
			return out, fmt.Errorf("abci: audit entry %d missing from state: %w", seq, audit.ErrGap)
		}
		a, err := audit.Decode(ent.Value)
		if err != nil {
			return out, fmt.Errorf("abci: audit entry %d: %w", seq, err)
		}
		if a.CommitTime, err = ct.at(a.Height); err != nil {
			return out, err
		}
		out = append(out, a)
	}
	return out, nil
}

// AuditHead answers audit.QueryHead: the state hash and audit head after
// block height (0 = the last committed).
func (r Reader) AuditHead(height uint64) (audit.HeadResponse, error) {
	e := r.e
	if height == 0 {
		height = e.height
	}
	if err := e.checkQueryHeight(height); err != nil {
		return audit.HeadResponse{}, err
	}
	// The head record's history is never pruned (retention.go): read the
	// version at height through History, which no floor refuses.
	ents, err := e.store.History(headKey, storage.Version{Height: height + 1}, 1)
	if err != nil {
		return audit.HeadResponse{}, err
	}
	if len(ents) == 0 {
		return audit.HeadResponse{}, fmt.Errorf("%w: no audit head at height %d", ErrNotFound, height)
	}
	state, head, err := decodeHeadRecord(ents[0].Value)
	if err != nil {
		return audit.HeadResponse{}, err
	}
	return audit.HeadResponse{Height: height, StateHash: state, Head: head}, nil
}
