package engine

import (
	"fmt"

	"github.com/dstt/dstt/rbac"
	"github.com/dstt/dstt/types"
)

// MaxCheckRequestBytes bounds the encoded CheckRequest a query may carry
// (a key of up to 4096 bytes and a subject, JSON-escaped).
const MaxCheckRequestBytes = 6*(4096+rbac.MaxNameBytes) + 256

// MayReadPolicy reports whether reader (an identity, as App.Query resolves
// it; "" for an unsigned query) may read the whole policy and the lines
// behind a decision: an admin of some domain, or a holder of
// rbac.AuditorRole in every domain. With access control off, everyone may.
func (r Reader) MayReadPolicy(reader string) bool {
	e := r.e
	return e.open || e.policy.MayReadPolicy(reader)
}

// PolicyReadable is nil when reader may read the policy (QueryPolicy), and
// the ErrUnauthorized explaining who may otherwise.
func (r Reader) PolicyReadable(reader string) error {
	switch {
	case r.MayReadPolicy(reader):
		return nil
	case reader == "":
		return fmt.Errorf("%w: sign the query to list the policy", ErrUnauthorized)
	}
	return fmt.Errorf("%w: the policy is readable by admins and by holders of the %q role in every domain (g, ADDRESS, %s, *); %s is neither",
		ErrUnauthorized, rbac.AuditorRole, rbac.AuditorRole, reader)
}

// checkRequest validates what a CheckRequest names, before anything is
// looked up: sizes, syntax, and a subject that is an address or a name the
// policy already contains. Nothing an outsider names is kept.
func (e *Engine) checkRequest(c types.CheckRequest) error {
	switch c.Action {
	case rbac.ActRead, rbac.ActWrite, rbac.ActAdmin:
	default:
		return fmt.Errorf("%w: action %.32q: want read, write or admin", ErrBadQuery, c.Action)
	}
	if c.Key != "" { // "" asks about every key (an event stream without a prefix)
		if code, msg := e.checkKey(c.Key); code != types.CodeOK {
			return fmt.Errorf("%w: %s", ErrBadQuery, msg)
		}
	}
	switch s := c.Subject; {
	case s == "" || isAddress(s) || s == rbac.Anyone:
	case len(s) > rbac.MaxNameBytes:
		return fmt.Errorf("%w: subject is %d bytes, the limit is %d", ErrBadQuery, len(s), rbac.MaxNameBytes)
	case !rbac.ValidName(s) || !e.policy.Knows(s):
		return fmt.Errorf("%w: subject %q is neither an address (40 lowercase hex digits) nor a role or subject in the policy", ErrBadQuery, s)
	}
	return nil
}

// Check answers c for reader (an identity) against the committed policy (a staged block's changes count from its Commit).
// The action "admin" asks about the key's domain (or, for key "*", every
// domain), exactly as IsAdmin decides it. An address subject is resolved to
// the identity whose rights it carries (a retired key has none). A request
// that fails checkRequest is ErrBadQuery. Only readers who may read the
// policy get the lines that decided.
func (r Reader) Check(reader string, c types.CheckRequest) (types.CheckResult, error) {
	e := r.e
	if err := e.checkRequest(c); err != nil {
		return types.CheckResult{}, err
	}
	dom := rbac.DomainOf(c.Key)
	obj := c.Key
	if c.Action == rbac.ActAdmin {
		obj = "*"
		if c.Key == "*" {
			dom = rbac.AllDomains
		}
	}
	if e.open {
		return types.CheckResult{Allowed: true, Domain: dom, Open: true, Reason: "the chain has no admins: access control is off"}, nil
	}
	res := types.CheckResult{Domain: dom}
	sub := c.Subject
	if isAddress(sub) {
		id, ok := e.resolve(sub)
		if !ok {
			res.Reason = "the key is retired: it carries no rights"
			return res, nil
		}
		sub = id
	}
	ok, lines := e.policy.Explain(sub, dom, obj, c.Action)
	res.Allowed = ok
	if !r.MayReadPolicy(reader) {
		res.Reason = "denied"
		if ok {
			res.Reason = "allowed"
		}
		return res, nil
	}
	for _, l := range lines {
		res.Because = append(res.Because, l.String())
	}
	switch {
	case ok && len(lines) == 0:
		res.Reason = "a chain-wide admin administers every domain"
	case ok:
		res.Reason = "allowed by an allow rule, and no deny rule matches"
	case len(lines) > 0:
		res.Reason = "denied by a deny rule"
	default:
		res.Reason = "no allow rule matches (deny by default)"
	}
	return res, nil
}
