package engine

import (
	"fmt"

	"github.com/dstt/dstt/rbac"
	"github.com/dstt/dstt/types"
)

// Reader is the engine's read side: every answer comes from committed
// state (the store as of the last Commit, the committed policy and key
// map). A block between FinalizeBlock and Commit never shows through it.
//
// A Reader is a view of its Engine, not a snapshot: it sees each Commit
// as it happens. Like the Engine it is not safe for concurrent use; the
// adapter calls it from the same serialised ABCI connection.
type Reader struct{ e *Engine }

// Reader returns the engine's read side.
func (e *Engine) Reader() Reader { return Reader{e} }

// Height is the last committed height.
func (r Reader) Height() uint64 { return r.e.height }

// ChainID is the chain id from genesis.
func (r Reader) ChainID() string { return r.e.chainID }

// Params are the chain's rules from genesis.
func (r Reader) Params() types.Params { return r.e.params }

// Open reports whether access control is off (no admins at genesis).
func (r Reader) Open() bool { return r.e.open }

// ChainInfo answers QueryParams.
func (r Reader) ChainInfo() types.ChainInfo {
	return types.ChainInfo{ChainID: r.e.chainID, Params: r.e.params, Open: r.e.open}
}

// Policy is the committed access-control policy, read-only. A block's
// changes show in it from the Commit that persists them.
func (r Reader) Policy() CommittedPolicy { return CommittedPolicy{r.e.policy} }

// PolicyView answers QueryPolicy (for a reader PolicyReadable allows).
func (r Reader) PolicyView() types.PolicyView {
	v := types.PolicyView{Open: r.e.open}
	p := r.Policy()
	for _, ru := range p.Rules() {
		v.Rules = append(v.Rules, types.RuleView{Subject: ru.Subject, Domain: ru.Domain, Object: ru.Object, Action: ru.Action, Deny: ru.Deny})
	}
	for _, g := range p.Grants() {
		v.Grants = append(v.Grants, types.GrantView{Subject: g.Subject, Role: g.Role, Domain: g.Domain})
	}
	return v
}

// CanRead reports whether reader (an identity, as Resolve returns it, or ""
// for an unsigned request) may read key under the committed policy.
func (r Reader) CanRead(reader, key string) bool {
	return r.e.open || r.e.policy.Allowed(reader, rbac.DomainOf(key), key, rbac.ActRead)
}

// Resolve maps a signed query's key address to the identity it reads as,
// by the same rule that maps a tx's signer: a key never rotated is its own
// identity, a rotated identity's current key acts for it, and a retired key
// acts for no one (ErrUnauthorized, saying when it was retired).
func (r Reader) Resolve(addr string) (identity string, err error) {
	id, ok := r.e.resolve(addr)
	if !ok {
		return "", fmt.Errorf("%w: %s", ErrUnauthorized, r.e.retiredKeyReason(addr))
	}
	return id, nil
}
