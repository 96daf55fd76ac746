package engine

import (
	"fmt"

	"github.com/dstt/dstt/rbac"
)

// Staging. The engine keeps two copies of the access-control policy and of
// the key map: the committed ones, which queries, CheckTx and proposals use,
// and the block's, which FinalizeBlock works on. The block's policy is the
// committed one plus the staged block's changes (st.policyLog); the block's
// key map is the committed one under an overlay (st.keys). Commit applies
// the log and the overlay to the committed copies after the store has
// committed the block, so a query between FinalizeBlock and Commit sees the
// committed policy only, and a grant in a block is effective for reads from
// the Commit that persists it.
//
// A policy change is applied twice (once to each copy) rather than the
// policy cloned per block: a clone costs a rebuild of Casbin's role links per
// grant line, which a block with one grant should not pay.

// policyChange is one effective change to the policy: a rule or a grant
// added or removed.
type policyChange struct {
	remove bool
	rule   *rbac.Rule
	grant  *rbac.Grant
}

// applyTo makes the change (or, with inverse, undoes it) in p and reports
// whether p changed.
func (c policyChange) applyTo(p *rbac.Policy, inverse bool) (bool, error) {
	add := c.remove == inverse
	switch {
	case c.rule != nil && add:
		return p.AddRule(*c.rule)
	case c.rule != nil:
		return p.RemoveRule(*c.rule)
	case add:
		return p.AddGrant(*c.grant)
	default:
		return p.RemoveGrant(*c.grant)
	}
}

// mustApply applies a change that is known to change p (it is replayed from
// a log, or undone right after it was made). Anything else is a fault.
func (c policyChange) mustApply(p *rbac.Policy, inverse bool) error {
	changed, err := c.applyTo(p, inverse)
	if err == nil && !changed {
		err = fmt.Errorf("abci: policy copies out of step: %+v (inverse %v) changed nothing", c, inverse)
	}
	return err
}

func addRule(r rbac.Rule) policyChange      { return policyChange{rule: &r} }
func removeRule(r rbac.Rule) policyChange   { return policyChange{rule: &r, remove: true} }
func addGrant(g rbac.Grant) policyChange    { return policyChange{grant: &g} }
func removeGrant(g rbac.Grant) policyChange { return policyChange{grant: &g, remove: true} }

// policyAt is the policy decisions are made against: the block's while a
// block executes (st non-nil), else the committed one.
func (e *Engine) policyAt(st *staged) *rbac.Policy {
	if st != nil {
		return e.blockPolicy
	}
	return e.policy
}

// stagePolicy makes c in the block's policy and logs it for Commit; it
// reports whether the policy changed (adding a line that exists or removing
// one that does not changes nothing and logs nothing).
func (e *Engine) stagePolicy(st *staged, c policyChange) (bool, error) {
	changed, err := c.applyTo(e.blockPolicy, false)
	if err != nil || !changed {
		return false, err
	}
	st.policyLog = append(st.policyLog, c)
	return true, nil
}

// unstagePolicy undoes the block's policy changes from the n-th on, newest
// first (a failed tx, or a block that does not finish).
func (e *Engine) unstagePolicy(st *staged, n int) error {
	for i := len(st.policyLog) - 1; i >= n; i-- {
		if err := st.policyLog[i].mustApply(e.blockPolicy, true); err != nil {
			return err
		}
	}
	st.policyLog = st.policyLog[:n]
	return nil
}

// keyAt is addr's key record as the block sees it (st non-nil) or as
// committed.
func (e *Engine) keyAt(st *staged, addr string) (keyRecord, bool) {
	if st != nil {
		if rec, ok := st.keys[addr]; ok {
			return rec, true
		}
	}
	rec, ok := e.keys[addr]
	return rec, ok
}

// stageKey sets addr's record in the block's overlay; the returned function
// undoes that.
func (st *staged) stageKey(addr string, rec keyRecord) (undo func()) {
	if st.keys == nil {
		st.keys = map[string]keyRecord{}
	}
	prev, had := st.keys[addr]
	st.keys[addr] = rec
	return func() {
		if had {
			st.keys[addr] = prev
		} else {
			delete(st.keys, addr)
		}
	}
}

// promote makes the staged block's policy changes and key records the
// committed ones. Called by Commit once the store holds the block.
func (e *Engine) promote(st *staged) error {
	for _, c := range st.policyLog {
		if err := c.mustApply(e.policy, false); err != nil {
			return err
		}
	}
	for addr, rec := range st.keys { // into a map: order cannot matter
		e.keys[addr] = rec
	}
	return nil
}

// CommittedPolicy is a read-only view of the committed access-control policy.
// It follows the committed policy (it changes at Commit, never during a
// block) and cannot change it.
type CommittedPolicy struct{ p *rbac.Policy }

// Rules returns every committed rule, sorted.
func (v CommittedPolicy) Rules() []rbac.Rule { return v.p.Rules() }

// Grants returns every committed grant, sorted.
func (v CommittedPolicy) Grants() []rbac.Grant { return v.p.Grants() }

// Allowed is the committed policy's decision on sub doing act on obj in dom.
func (v CommittedPolicy) Allowed(sub, dom, obj, act string) bool {
	return v.p.Allowed(sub, dom, obj, act)
}

// IsAdmin reports whether sub holds admin in dom under the committed policy.
func (v CommittedPolicy) IsAdmin(sub, dom string) bool { return v.p.IsAdmin(sub, dom) }
