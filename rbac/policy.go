package rbac

import (
	_ "embed"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/util"
)

//go:embed model.conf
var modelText string

// ModelText is the Casbin model every validator runs.
func ModelText() string { return modelText }

// Actions.
const (
	ActRead  = "read"
	ActWrite = "write"
	ActAdmin = "admin"
	ActAll   = "*"
)

// Anyone is the subject every signer (and an unsigned reader) matches.
const Anyone = "anyone"

// AllDomains in a rule or grant means every domain.
const AllDomains = "*"

// DefaultDomain is the domain of a key without '/'.
const DefaultDomain = "default"

// AdminRole is the role genesis admins get in every domain.
const AdminRole = "admin"

// Errors.
var (
	ErrDenied     = errors.New("rbac: permission denied")
	ErrBadRule    = errors.New("rbac: invalid rule")
	ErrBadGrant   = errors.New("rbac: invalid grant")
	ErrNotPresent = errors.New("rbac: no such rule or grant")
)

// Rule is one permission line.
type Rule struct {
	Subject string `json:"subject"`
	Domain  string `json:"domain"`
	Object  string `json:"object"`
	Action  string `json:"action"`
	Deny    bool   `json:"deny,omitempty"`
}

func (r Rule) effect() string {
	if r.Deny {
		return "deny"
	}
	return "allow"
}

func (r Rule) String() string {
	return fmt.Sprintf("p, %s, %s, %s, %s, %s", r.Subject, r.Domain, r.Object, r.Action, r.effect())
}

// Grant gives Subject the Role in Domain.
type Grant struct {
	Subject string `json:"subject"`
	Role    string `json:"role"`
	Domain  string `json:"domain"`
}

func (g Grant) String() string { return fmt.Sprintf("g, %s, %s, %s", g.Subject, g.Role, g.Domain) }

// DomainOf is the domain a key belongs to.
func DomainOf(key string) string {
	if i := strings.IndexByte(key, '/'); i > 0 {
		return key[:i]
	}
	return DefaultDomain
}

var namePat = regexp.MustCompile(`^[A-Za-z0-9._:@-]{1,128}$`)

func checkName(what, s string) error {
	if !namePat.MatchString(s) {
		return fmt.Errorf("%s %q: want 1-128 characters of A-Z a-z 0-9 . _ : @ -", what, s)
	}
	return nil
}

func checkDomain(d string) error {
	if d == AllDomains {
		return nil
	}
	return checkName("domain", d)
}

// Validate checks a rule's fields; the object pattern must compile.
func (r Rule) Validate() error {
	var probs []string
	if err := checkName("subject", r.Subject); err != nil {
		probs = append(probs, err.Error())
	}
	if err := checkDomain(r.Domain); err != nil {
		probs = append(probs, err.Error())
	}
	switch r.Action {
	case ActRead, ActWrite, ActAdmin, ActAll:
	default:
		probs = append(probs, fmt.Sprintf("action %q: want read, write, admin or *", r.Action))
	}
	if r.Object == "" || len(r.Object) > 512 || strings.ContainsFunc(r.Object, func(c rune) bool { return c == ',' || c <= ' ' || c == 0x7f }) {
		probs = append(probs, fmt.Sprintf("object %q: want a key pattern of 1-512 characters without commas or spaces", r.Object))
	} else if _, err := compileObject(r.Object); err != nil {
		probs = append(probs, fmt.Sprintf("object %q: %v", r.Object, err))
	}
	if len(probs) > 0 {
		return fmt.Errorf("%w: %s", ErrBadRule, strings.Join(probs, "; "))
	}
	return nil
}

// Validate checks a grant's fields.
func (g Grant) Validate() error {
	var probs []string
	if err := checkName("subject", g.Subject); err != nil {
		probs = append(probs, err.Error())
	}
	if err := checkName("role", g.Role); err != nil {
		probs = append(probs, err.Error())
	}
	if g.Role == Anyone || g.Subject == Anyone {
		probs = append(probs, `"anyone" cannot be granted or be a role`)
	}
	if err := checkDomain(g.Domain); err != nil {
		probs = append(probs, err.Error())
	}
	if len(probs) > 0 {
		return fmt.Errorf("%w: %s", ErrBadGrant, strings.Join(probs, "; "))
	}
	return nil
}

// matcher is a compiled object pattern with keyMatch2's semantics.
type matcher struct {
	all    bool
	exact  string
	prefix string // "a/b/" for "a/b/*" with no other special characters
	re     *regexp.Regexp
}

var keyMatch2Param = regexp.MustCompile(`:[^/]+`)

// compileObject builds what util.KeyMatch2 builds on every call, once.
func compileObject(pat string) (*matcher, error) {
	if pat == "*" {
		return &matcher{all: true}, nil
	}
	re, err := regexp.Compile("^" + keyMatch2Param.ReplaceAllString(strings.ReplaceAll(pat, "/*", "/.*"), "$1[^/]+$2") + "$")
	if err != nil {
		return nil, err
	}
	plain := func(s string) bool { return !strings.ContainsAny(s, `\.+*?()|[]{}^$:`) }
	switch {
	case plain(pat):
		return &matcher{exact: pat}, nil
	case strings.HasSuffix(pat, "/*") && plain(strings.TrimSuffix(pat, "/*")):
		return &matcher{prefix: strings.TrimSuffix(pat, "*")}, nil
	}
	return &matcher{re: re}, nil
}

func (m *matcher) match(key string) bool {
	switch {
	case m.all:
		return true
	case m.re != nil:
		return m.re.MatchString(key)
	case m.prefix != "":
		return strings.HasPrefix(key, m.prefix)
	}
	return key == m.exact
}

type compiledRule struct {
	Rule
	obj *matcher
}

// Policy holds the policy lines and decides requests.
type Policy struct {
	enf   *casbin.Enforcer
	rules map[string][]*compiledRule // by subject
	roles map[[2]string][]string     // (subject, domain) -> subject + implicit roles; reset on grant changes
}

// New returns an empty policy.
func New() *Policy {
	m, err := model.NewModelFromString(modelText)
	if err != nil {
		panic(fmt.Sprintf("rbac: embedded model: %v", err)) // broken build
	}
	enf, err := casbin.NewEnforcer(m)
	if err != nil {
		panic(fmt.Sprintf("rbac: enforcer: %v", err))
	}
	enf.EnableLog(false)
	// A grant in domain "*" holds in every domain.
	enf.AddNamedDomainMatchingFunc("g", "domainMatch", func(req, pat string) bool { return pat == AllDomains || req == pat })
	return &Policy{enf: enf, rules: map[string][]*compiledRule{}, roles: map[[2]string][]string{}}
}

// AddRule adds r; it reports false if r was already there.
func (p *Policy) AddRule(r Rule) (bool, error) {
	if err := r.Validate(); err != nil {
		return false, err
	}
	ok, err := p.enf.AddPolicy(r.Subject, r.Domain, r.Object, r.Action, r.effect())
	if err != nil || !ok {
		return false, err
	}
	obj, _ := compileObject(r.Object) // Validate compiled it
	p.rules[r.Subject] = append(p.rules[r.Subject], &compiledRule{Rule: r, obj: obj})
	return true, nil
}

// RemoveRule removes r; it reports false if r was not there.
func (p *Policy) RemoveRule(r Rule) (bool, error) {
	ok, err := p.enf.RemovePolicy(r.Subject, r.Domain, r.Object, r.Action, r.effect())
	if err != nil || !ok {
		return false, err
	}
	p.rules[r.Subject] = slices.DeleteFunc(p.rules[r.Subject], func(c *compiledRule) bool { return c.Rule == r })
	return true, nil
}

// AddGrant adds g; it reports false if g was already there.
func (p *Policy) AddGrant(g Grant) (bool, error) {
	if err := g.Validate(); err != nil {
		return false, err
	}
	ok, err := p.enf.AddGroupingPolicy(g.Subject, g.Role, g.Domain)
	if ok {
		err = p.rebuildRoles()
	}
	return ok, err
}

// RemoveGrant removes g; it reports false if g was not there.
func (p *Policy) RemoveGrant(g Grant) (bool, error) {
	ok, err := p.enf.RemoveGroupingPolicy(g.Subject, g.Role, g.Domain)
	if ok {
		err = p.rebuildRoles()
	}
	return ok, err
}

// rebuildRoles rebuilds Casbin's role links from the grant lines. Casbin's
// incremental updates with a domain-matching function ("*" grants) can
// leave stale links, so that a long-running policy decides differently
// from one loaded fresh from the same lines; a rebuild is exact and cheap
// (grants change rarely).
func (p *Policy) rebuildRoles() error {
	clear(p.roles)
	return p.enf.BuildRoleLinks()
}

// subjects is sub followed by its roles in dom, transitively.
func (p *Policy) subjects(sub, dom string) []string {
	k := [2]string{sub, dom}
	if s, ok := p.roles[k]; ok {
		return s
	}
	roles, _ := p.enf.GetImplicitRolesForUser(sub, dom) // an in-memory role manager does not fail
	s := append([]string{sub}, roles...)
	p.roles[k] = s
	return s
}

// Allowed decides (sub, dom, obj, act) exactly as Casbin's Enforce on the
// model would, in time that depends on the subject's rules, not the policy's
// size. sub "" is an unauthenticated reader: only "anyone" rules apply.
func (p *Policy) Allowed(sub, dom, obj, act string) bool {
	allow := false
	check := func(rs []*compiledRule) bool { // false: a deny matched
		for _, r := range rs {
			if (r.Domain == AllDomains || r.Domain == dom) && (r.Action == ActAll || r.Action == act) && r.obj.match(obj) {
				if r.Deny {
					return false
				}
				allow = true
			}
		}
		return true
	}
	if !check(p.rules[Anyone]) {
		return false
	}
	if sub != "" {
		for _, s := range p.subjects(sub, dom) {
			if s != Anyone && !check(p.rules[s]) {
				return false
			}
		}
	}
	return allow
}

// IsAdmin reports whether sub may change dom's policy ("*": every domain's).
func (p *Policy) IsAdmin(sub, dom string) bool { return p.Allowed(sub, dom, "*", ActAdmin) }

// Explain runs Casbin's own matcher and returns its decision and the policy
// lines that decided it. Slow (a linear scan): for tools, not the engine.
func (p *Policy) Explain(sub, dom, obj, act string) (bool, []string, error) {
	ok, lines, err := p.enf.EnforceEx(sub, dom, obj, act)
	return ok, lines, err
}

// Enforce is Casbin's Enforce on the same request (for tests and tools).
func (p *Policy) Enforce(sub, dom, obj, act string) (bool, error) {
	return p.enf.Enforce(sub, dom, obj, act)
}

// Rules returns every rule, sorted.
func (p *Policy) Rules() []Rule {
	var out []Rule
	for _, rs := range p.rules {
		for _, r := range rs {
			out = append(out, r.Rule)
		}
	}
	slices.SortFunc(out, func(a, b Rule) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// Grants returns every grant, sorted.
func (p *Policy) Grants() []Grant {
	lines, _ := p.enf.GetGroupingPolicy()
	out := make([]Grant, 0, len(lines))
	for _, l := range lines {
		out = append(out, Grant{Subject: l[0], Role: l[1], Domain: l[2]})
	}
	slices.SortFunc(out, func(a, b Grant) int { return strings.Compare(a.String(), b.String()) })
	return out
}

var _ = util.KeyMatch2 // the semantics compileObject reproduces
