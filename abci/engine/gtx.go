package engine

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
)

// Global transactions (gtx). The engine is the coordinator: a gtx's state
// machine (gtxmachine.go) runs in the replicated path, moved only by
// BeginGtx, by answers signed by the branch's participant key
// (gtxops.go), and by block time reaching a deadline (sweepGtxDeadlines).
//
// State:
//
//	nsParticipant + id  -> encoded types.Participant
//	nsGtxDef + gid      -> encoded types.BeginGtx as begun (immutable: the
//	                       payloads are stored once, not with every step)
//	nsGtx + gid         -> encoded types.Gtx without branches and commit
//	                       writes (the phase and the journal of steps)
//	nsGtxOpen + gid     -> 8-byte big-endian deadline (Unix ms; 0 once the
//	                       gtx has left RUNNING): the gtxs not yet final
//
// The open gtxs are also held in memory (e.gtxOpen, loaded from nsGtxOpen
// at start): the deadline sweep and the pending-work query walk them
// without scanning the store. A block changes them through st.gtxOpen,
// which Commit applies.
const (
	nsParticipant = 'P'
	nsGtxDef      = 'G'
	nsGtx         = 'g'
	nsGtxOpen     = 'W'
)

// maxGtxSweep bounds the gtxs one block rolls back for their deadline; the
// rest go in the next blocks (their deadline has passed: they stay due).
const maxGtxSweep = 256

func participantKey(id string) []byte { return prefixed(nsParticipant, id) }
func gtxDefKey(gid string) []byte     { return prefixed(nsGtxDef, gid) }
func gtxKey(gid string) []byte        { return prefixed(nsGtx, gid) }
func gtxOpenKey(gid string) []byte    { return prefixed(nsGtxOpen, gid) }

// gtxOpenChange is a block's change to one open gtx: its deadline (0: none
// any more), or closed.
type gtxOpenChange struct {
	deadline int64
	closed   bool
}

// loadGtxOpen rebuilds the in-memory set of open gtxs.
func (e *Engine) loadGtxOpen() error {
	e.gtxOpen = map[string]int64{}
	var bad []byte
	err := e.store.Scan([]byte{nsGtxOpen}, 0, func(ent storage.Entry) bool {
		if len(ent.Value) != 8 {
			bad = ent.Key
			return false
		}
		e.gtxOpen[string(ent.Key[1:])] = int64(binary.BigEndian.Uint64(ent.Value))
		return true
	})
	if err != nil {
		return fmt.Errorf("abci: load open gtxs: %w", err)
	}
	if bad != nil {
		return fmt.Errorf("abci: load open gtxs: bad record %q", bad)
	}
	return nil
}

// promoteGtx applies a committed block's changes to the open gtxs.
func (e *Engine) promoteGtx(st *staged) {
	for gid, c := range st.gtxOpen { // into a map: order cannot matter
		if c.closed {
			delete(e.gtxOpen, gid)
		} else {
			e.gtxOpen[gid] = c.deadline
		}
	}
}

// openGtxCount is the number of open gtxs as the block sees them.
func (e *Engine) openGtxCount(st *staged) int {
	n := len(e.gtxOpen)
	if st == nil {
		return n
	}
	for gid, c := range st.gtxOpen {
		_, was := e.gtxOpen[gid]
		switch {
		case c.closed && was:
			n--
		case !c.closed && !was:
			n++
		}
	}
	return n
}

// setGtxOpen stages the open-set record of g after a transition, with an
// undo for the tx's rollback (u nil: a block-level change).
func (e *Engine) setGtxOpen(st *staged, g *types.Gtx, ver storage.Version, u *undoLog) {
	prev, had := st.gtxOpen[g.Gid]
	c := gtxOpenChange{closed: g.Phase.IsFinal()}
	if g.Phase == types.GtxPhase_GTX_PHASE_RUNNING {
		c.deadline = g.DeadlineUnixMs
	}
	if c.closed {
		st.put(storage.Entry{Key: gtxOpenKey(g.Gid), Deleted: true, Version: ver})
	} else {
		st.put(storage.Entry{Key: gtxOpenKey(g.Gid), Value: binary.BigEndian.AppendUint64(nil, uint64(c.deadline)), Version: ver})
	}
	if st.gtxOpen == nil {
		st.gtxOpen = map[string]gtxOpenChange{}
	}
	st.gtxOpen[g.Gid] = c
	if u != nil {
		u.add(func() {
			if had {
				st.gtxOpen[g.Gid] = prev
			} else {
				delete(st.gtxOpen, g.Gid)
			}
		})
	}
}

// readAt reads a storage key as the block sees it (st non-nil) or as
// committed (st nil: CheckTx, queries).
func (e *Engine) readAt(st *staged, key []byte) (storage.Entry, bool, error) {
	if st != nil {
		return e.read(st, key)
	}
	return e.store.Get(key, 0)
}

type unmarshaler interface{ Unmarshal([]byte) error }

// readProto decodes the newest value of key into m; ok is false when there
// is none.
func (e *Engine) readProto(st *staged, key []byte, m unmarshaler) (bool, error) {
	ent, ok, err := e.readAt(st, key)
	if err != nil || !ok || ent.Deleted {
		return false, err
	}
	if err := m.Unmarshal(ent.Value); err != nil {
		return false, fmt.Errorf("abci: stored record %q: %w", key, err)
	}
	return true, nil
}

type marshaler interface{ Marshal() ([]byte, error) }

func (e *Engine) putProto(st *staged, key []byte, m marshaler, ver storage.Version) error {
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	st.put(storage.Entry{Key: key, Value: b, Version: ver})
	return nil
}

// loadGtx reads gtx gid and its definition; ok is false when there is none.
func (e *Engine) loadGtx(st *staged, gid string) (*types.Gtx, *types.BeginGtx, bool, error) {
	var g types.Gtx
	ok, err := e.readProto(st, gtxKey(gid), &g)
	if err != nil || !ok {
		return nil, nil, false, err
	}
	var def types.BeginGtx
	ok, err = e.readProto(st, gtxDefKey(gid), &def)
	if err != nil {
		return nil, nil, false, err
	}
	if !ok {
		return nil, nil, false, fmt.Errorf("abci: gtx %q has no stored definition", gid)
	}
	return &g, &def, true, nil
}

// readParticipant reads participant id; ok is false when there is none.
func (e *Engine) readParticipant(st *staged, id string) (*types.Participant, bool, error) {
	var p types.Participant
	ok, err := e.readProto(st, participantKey(id), &p)
	return &p, ok, err
}

// sweepGtxDeadlines rolls back, at the start of a block, the RUNNING gtxs
// whose deadline the block's time has reached (in deadline, then gid
// order; at most maxGtxSweep a block). It reads the committed open set:
// nothing of the block is staged yet but evidence.
func (e *Engine) sweepGtxDeadlines(st *staged, b *Block) error {
	now := b.Time.UnixMilli()
	type due struct {
		gid      string
		deadline int64
	}
	var expired []due
	for gid, dl := range e.gtxOpen { // collected, then sorted: order cannot leak
		if dl != 0 && dl <= now {
			expired = append(expired, due{gid, dl})
		}
	}
	slices.SortFunc(expired, func(a, b due) int {
		return cmp.Or(cmp.Compare(a.deadline, b.deadline), cmp.Compare(a.gid, b.gid))
	})
	ver := storage.Version{Height: st.height}
	for _, x := range expired[:min(len(expired), maxGtxSweep)] {
		g, _, ok, err := e.loadGtx(st, x.gid)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("abci: open gtx %q has no state", x.gid)
		}
		m := gtxMachine{g: g, height: st.height}
		m.deadline()
		if err := e.saveGtx(st, g, ver, nil); err != nil {
			return err
		}
		st.gtxEvents = append(st.gtxEvents, gtxEvent{block: true, action: gtxActDeadline, gid: g.Gid, phase: g.Phase, due: m.due})
	}
	return nil
}

// saveGtx stages g's state and its open-set record.
func (e *Engine) saveGtx(st *staged, g *types.Gtx, ver storage.Version, u *undoLog) error {
	if g.Phase.IsFinal() && g.EndHeight == 0 {
		g.EndHeight = st.height
	}
	if err := e.putProto(st, gtxKey(g.Gid), g, ver); err != nil {
		return err
	}
	e.setGtxOpen(st, g, ver, u)
	return nil
}

// openGtxIDs lists the committed open gtxs, sorted.
func (e *Engine) openGtxIDs() []string { return slices.Sorted(maps.Keys(e.gtxOpen)) }
