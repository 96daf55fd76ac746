package types

import "fmt"

// RuleView is one permission line of the access-control policy, as a query
// answers it: Subject may (or, with Deny, may not) do Action on Object in
// Domain.
type RuleView struct {
	Subject string `json:"subject"`
	Domain  string `json:"domain"`
	Object  string `json:"object"`
	Action  string `json:"action"`
	Deny    bool   `json:"deny,omitempty"`
}

// String is the rule as a Casbin policy line: "p, sub, dom, obj, act, allow|deny".
func (r RuleView) String() string {
	eft := "allow"
	if r.Deny {
		eft = "deny"
	}
	return fmt.Sprintf("p, %s, %s, %s, %s, %s", r.Subject, r.Domain, r.Object, r.Action, eft)
}

// GrantView gives Subject the Role in Domain.
type GrantView struct {
	Subject string `json:"subject"`
	Role    string `json:"role"`
	Domain  string `json:"domain"`
}

// String is the grant as a Casbin grouping line: "g, sub, role, dom".
func (g GrantView) String() string { return fmt.Sprintf("g, %s, %s, %s", g.Subject, g.Role, g.Domain) }

// PolicyView is the answer to QueryPolicy: the whole policy, sorted.
type PolicyView struct {
	// Open: genesis named no admins, so access control is off.
	Open   bool        `json:"open"`
	Rules  []RuleView  `json:"rules"`
	Grants []GrantView `json:"grants"`
}

// CheckRequest asks "may Subject do Action on Key?" (QueryCheck). Subject
// is an address or a role or subject the policy names; Action is read,
// write or admin; an empty Key asks about every key.
type CheckRequest struct {
	Subject string `json:"subject"`
	Action  string `json:"action"`
	Key     string `json:"key"`
}

// CheckResult answers a CheckRequest. Because holds the policy lines that
// decided, and Reason says how, only for readers who may read the policy;
// anyone else gets the decision alone.
type CheckResult struct {
	Allowed bool     `json:"allowed"`
	Domain  string   `json:"domain"`
	Open    bool     `json:"open,omitempty"`
	Because []string `json:"because,omitempty"`
	Reason  string   `json:"reason"`
}
