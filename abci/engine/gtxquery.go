package engine

import (
	"fmt"

	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
)

// The gtx reads (types.QueryGtx, QueryGtxList, QueryGtxPending,
// QueryGtxParticipant). On a chain with access control a gtx is readable
// by its creator and by readers with read on types.GtxReadKey(gid); the
// list and the pending work leave out the gtxs the reader may not read.
// Participants are readable by anyone (executors need their keys and
// endpoints).

// mayReadGtx reports whether reader may read gtx g.
func (r Reader) mayReadGtx(reader string, g *types.Gtx) bool {
	return r.e.open || (reader != "" && reader == g.Creator) || r.CanRead(reader, types.GtxReadKey(g.Gid))
}

// Gtx returns gtx gid as of height (0: the latest committed), with its
// branches and commit writes.
func (r Reader) Gtx(reader, gid string, height uint64) (*types.Gtx, error) {
	e := r.e
	if !types.ValidGtxName(gid, types.MaxGtxIDBytes) {
		return nil, fmt.Errorf("%w: gid %q", ErrBadQuery, gid)
	}
	if err := e.checkQueryHeight(height); err != nil {
		return nil, err
	}
	var g types.Gtx
	ok, err := r.getProto(gtxKey(gid), height, &g)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: gtx %q", ErrNotFound, gid)
	}
	if !r.mayReadGtx(reader, &g) {
		return nil, fmt.Errorf("%w: %s may not read gtx %q: readable by its creator and by readers with read on %q", ErrUnauthorized, readerName(reader), gid, types.GtxReadKey(gid))
	}
	var def types.BeginGtx
	if ok, err := r.getProto(gtxDefKey(gid), height, &def); err != nil || !ok {
		return nil, fmt.Errorf("abci: gtx %q has no stored definition (%v)", gid, err)
	}
	g.Branches, g.CommitWrites = def.Branches, def.CommitWrites
	return &g, nil
}

func readerName(reader string) string {
	if reader == "" {
		return "an unsigned reader"
	}
	return reader
}

func (r Reader) getProto(key []byte, height uint64, m unmarshaler) (bool, error) {
	ent, ok, err := r.e.store.Get(key, height)
	if err != nil || !ok || ent.Deleted {
		return false, err
	}
	if err := m.Unmarshal(ent.Value); err != nil {
		return false, fmt.Errorf("abci: stored record %q: %w", key, err)
	}
	return true, nil
}

// Participant returns participant id.
func (r Reader) Participant(id string) (*types.Participant, error) {
	if !types.ValidGtxName(id, types.MaxParticipantIDBytes) {
		return nil, fmt.Errorf("%w: participant id %q", ErrBadQuery, id)
	}
	var p types.Participant
	ok, err := r.getProto(participantKey(id), 0, &p)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: participant %q", ErrNotFound, id)
	}
	return &p, nil
}

func gtxPageLimit(limit uint32) int {
	if limit == 0 {
		return types.GtxPageDefault
	}
	return int(min(limit, types.GtxPageMax))
}

// GtxList returns a page of the gtxs reader may read, in gid order.
func (r Reader) GtxList(reader string, req *types.GtxListRequest) (*types.GtxList, error) {
	limit := gtxPageLimit(req.Limit)
	out := &types.GtxList{}
	var ids []string
	if req.OpenOnly {
		ids = r.e.openGtxIDs()
	}
	visit := func(g *types.Gtx) bool {
		if g.Gid <= req.After || !r.mayReadGtx(reader, g) {
			return true
		}
		if len(out.Gtxs) == limit {
			out.Next = out.Gtxs[limit-1].Gid
			return false
		}
		out.Gtxs = append(out.Gtxs, summarize(g))
		return true
	}
	var err error
	if req.OpenOnly {
		err = r.eachGtx(ids, visit)
	} else {
		err = r.scanGtxs(req.After, visit)
	}
	return out, err
}

// scanGtxs calls fn with every gtx after gid after, in gid order, until fn
// returns false.
func (r Reader) scanGtxs(after string, fn func(*types.Gtx) bool) error {
	var bad error
	err := r.e.store.Scan([]byte{nsGtx}, 0, func(ent storage.Entry) bool {
		if string(ent.Key[1:]) <= after {
			return true
		}
		var g types.Gtx
		if bad = g.Unmarshal(ent.Value); bad != nil {
			return false
		}
		return fn(&g)
	})
	if bad != nil {
		return fmt.Errorf("abci: stored gtx: %w", bad)
	}
	return err
}

// eachGtx calls fn with the committed gtxs ids, in order, until it returns
// false.
func (r Reader) eachGtx(ids []string, fn func(*types.Gtx) bool) error {
	for _, gid := range ids {
		var g types.Gtx
		ok, err := r.getProto(gtxKey(gid), 0, &g)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("abci: open gtx %q has no state", gid)
		}
		if !fn(&g) {
			return nil
		}
	}
	return nil
}

func summarize(g *types.Gtx) types.GtxSummary {
	return types.GtxSummary{
		Gid: g.Gid, Mode: g.Mode, Phase: g.Phase, Creator: g.Creator, BeginHeight: g.BeginHeight,
		EndHeight: g.EndHeight, DeadlineUnixMs: g.DeadlineUnixMs, Branches: uint32(countBranches(g)),
	}
}

// countBranches is the number of branches of g as its journal shows them
// (a gtx read without its definition).
func countBranches(g *types.Gtx) int {
	n := len(g.Branches)
	for _, s := range g.Steps {
		n = max(n, int(s.Branch)+1)
	}
	return n
}

// GtxPending returns a page of the awaited steps of the open gtxs reader
// may read, by gid then journal order; a gtx's steps are never split.
func (r Reader) GtxPending(reader string, req *types.GtxPendingRequest) (*types.GtxPending, error) {
	limit := gtxPageLimit(req.Limit)
	out := &types.GtxPending{Height: r.e.height}
	var ferr error
	err := r.eachGtx(r.e.openGtxIDs(), func(g *types.Gtx) bool {
		if g.Gid <= req.After || !r.mayReadGtx(reader, g) {
			return true
		}
		work, err := r.gtxWork(g, req.Org)
		if err != nil {
			ferr = err
			return false
		}
		if len(work) == 0 {
			return true
		}
		if len(out.Work) > 0 && len(out.Work)+len(work) > limit {
			out.Next = out.Work[len(out.Work)-1].Gid
			return false
		}
		out.Work = append(out.Work, work...)
		return true
	})
	if ferr != nil {
		return nil, ferr
	}
	return out, err
}

// gtxWork lists g's awaited steps (of org's participants, when org is set).
func (r Reader) gtxWork(g *types.Gtx, org string) ([]types.GtxWork, error) {
	var def types.BeginGtx
	if ok, err := r.getProto(gtxDefKey(g.Gid), 0, &def); err != nil || !ok {
		return nil, fmt.Errorf("abci: gtx %q has no stored definition (%v)", g.Gid, err)
	}
	var work []types.GtxWork
	for _, s := range g.Steps {
		if s.State != types.GtxStepState_GTX_STEP_AWAITED {
			continue
		}
		br := &def.Branches[s.Branch]
		var p types.Participant
		if _, err := r.getProto(participantKey(br.Participant), 0, &p); err != nil {
			return nil, err
		}
		if org != "" && p.Org != org {
			continue
		}
		work = append(work, types.GtxWork{
			Gid: g.Gid, Branch: s.Branch, Op: s.Op, Attempt: s.Attempt, Participant: br.Participant,
			Org: p.Org, Endpoint: p.Endpoint, Payload: br.Payload(s.Op), DeadlineUnixMs: g.DeadlineUnixMs,
			Mode: g.Mode, DueHeight: s.DueHeight,
		})
	}
	return work, nil
}
