package engine

import "slices"

// undoLog rolls back what a tx changed in the block's policy, key overlay
// and staged writes when a later op of the same tx fails, so the tx stays
// all-or-nothing even though policy, identity and governance ops change the
// block's state as they go.
type undoLog struct {
	st         *staged
	nWrites    int
	nPolicy    int
	valUpdates []ValidatorUpdate
	fns        []func()
}

func (st *staged) mark() *undoLog {
	return &undoLog{st: st, nWrites: len(st.writes), nPolicy: len(st.policyLog), valUpdates: slices.Clone(st.valUpdates)}
}

func (u *undoLog) add(fn func()) { u.fns = append(u.fns, fn) }

// rollback undoes in reverse order, takes the tx's policy changes out of
// the block's policy and drops the staged writes made since the mark.
func (u *undoLog) rollback(e *Engine) error {
	for i := len(u.fns) - 1; i >= 0; i-- {
		u.fns[i]()
	}
	st := u.st
	if err := e.unstagePolicy(st, u.nPolicy); err != nil {
		return err
	}
	for _, w := range st.writes[u.nWrites:] {
		delete(st.latest, string(w.Key))
	}
	st.writes = st.writes[:u.nWrites]
	for i := u.nWrites - 1; i >= 0; i-- { // re-point dropped keys at earlier writes
		k := string(st.writes[i].Key)
		if _, ok := st.latest[k]; !ok {
			st.latest[k] = i
		}
	}
	st.valUpdates = u.valUpdates
	return nil
}
