package abci

import (
	"strings"

	"github.com/dstt/dstt/rbac"
)

// PolicyView is the answer to QueryPolicy.
type PolicyView struct {
	Open   bool         `json:"open"`
	Rules  []rbac.Rule  `json:"rules"`
	Grants []rbac.Grant `json:"grants"`
}

// CheckRequest asks "may Subject do Action on Key?" (QueryCheck).
type CheckRequest struct {
	Subject string `json:"subject"`
	Action  string `json:"action"`
	Key     string `json:"key"`
}

// CheckResult answers a CheckRequest, with the policy lines Casbin used.
type CheckResult struct {
	Allowed bool     `json:"allowed"`
	Domain  string   `json:"domain"`
	Open    bool     `json:"open,omitempty"`
	Because []string `json:"because,omitempty"`
	Reason  string   `json:"reason"`
}

// Check answers a CheckRequest against the committed policy. The action
// "admin" asks about the key's domain (or, for key "*", every domain).
func (e *Engine) Check(c CheckRequest) CheckResult {
	dom := rbac.DomainOf(c.Key)
	obj := c.Key
	if c.Action == rbac.ActAdmin {
		obj = "*"
		if c.Key == "*" {
			dom = rbac.AllDomains
		}
	}
	if e.open {
		return CheckResult{Allowed: true, Domain: dom, Open: true, Reason: "the chain has no admins: access control is off"}
	}
	ok, lines, err := e.policy.Explain(c.Subject, dom, obj, c.Action)
	res := CheckResult{Allowed: ok && e.policy.Allowed(c.Subject, dom, obj, c.Action), Domain: dom}
	if len(lines) > 0 {
		res.Because = []string{"p, " + strings.Join(lines, ", ")}
	}
	switch {
	case err != nil:
		res.Reason = err.Error()
	case res.Allowed:
		res.Reason = "allowed by an allow rule, and no deny rule matches"
	case len(lines) > 0:
		res.Reason = "denied by a deny rule"
	default:
		res.Reason = "no allow rule matches (deny by default)"
	}
	return res
}
