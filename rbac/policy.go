package rbac

import (
	_ "embed"
	"errors"
	"fmt"
	"maps"
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
	// ActGtxBegin lets a subject begin global transactions with a
	// participant: object participant/ID in the participant's org domain
	// (types.GtxBeginAction).
	ActGtxBegin = "gtx:begin"
)

// Anyone is the subject every signer (and an unsigned reader) matches.
const Anyone = "anyone"

// AllDomains in a rule or grant means every domain.
const AllDomains = "*"

// DefaultDomain is the domain of a key without '/'.
const DefaultDomain = "default"

// AdminRole is the role genesis admins get in every domain. Holding it in
// AllDomains makes a chain-wide admin (see IsChainAdmin).
const AdminRole = "admin"

// AuditorRole, held in AllDomains, lets a subject read the whole policy
// without changing it (see MayReadPolicy). Grant it like any role:
// g, ADDRESS, auditor, *.
const AuditorRole = "auditor"

// MaxNameBytes bounds a subject, role or domain name.
const MaxNameBytes = 128

// Errors.
var (
	ErrDenied     = errors.New("rbac: permission denied")
	ErrBadRule    = errors.New("rbac: invalid rule")
	ErrBadGrant   = errors.New("rbac: invalid grant")
	ErrNotPresent = errors.New("rbac: no such rule or grant")
	// ErrProtected: the change would lock a chain-wide admin out, and only
	// a chain-wide admin may make it.
	ErrProtected = errors.New("rbac: only a chain-wide admin may do this")
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

// ValidName reports whether s is a well-formed subject, role or domain name
// (1-MaxNameBytes characters of A-Z a-z 0-9 . _ : @ -).
func ValidName(s string) bool { return len(s) <= MaxNameBytes && namePat.MatchString(s) }

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
	case ActRead, ActWrite, ActAdmin, ActAll, ActGtxBegin:
	default:
		probs = append(probs, fmt.Sprintf("action %q: want read, write, admin, %s or *", r.Action, ActGtxBegin))
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
//
// Its caches are keyed only by names that committed lines contain: a
// request that names an unknown subject or domain is answered without
// creating any state, so outsiders' queries cannot grow memory.
type Policy struct {
	enf   *casbin.Enforcer
	rules map[string][]*compiledRule // by subject; no empty entries
	// roles: (grant subject, grant domain or "*") -> subject + implicit
	// roles; reset on grant changes.
	roles         map[[2]string][]string
	grantSubjects map[string]bool // subjects of grant lines
	grantRoles    map[string]bool // roles of grant lines
	grantDomains  map[string]bool // domains of grant lines
	ruleDomains   map[string]int  // domain -> number of rules in it
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
	return &Policy{
		enf: enf, rules: map[string][]*compiledRule{}, roles: map[[2]string][]string{},
		grantSubjects: map[string]bool{}, grantRoles: map[string]bool{}, grantDomains: map[string]bool{},
		ruleDomains: map[string]int{},
	}
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
	p.ruleDomains[r.Domain]++
	return true, nil
}

// RemoveRule removes r; it reports false if r was not there.
func (p *Policy) RemoveRule(r Rule) (bool, error) {
	ok, err := p.enf.RemovePolicy(r.Subject, r.Domain, r.Object, r.Action, r.effect())
	if err != nil || !ok {
		return false, err
	}
	if rs := slices.DeleteFunc(p.rules[r.Subject], func(c *compiledRule) bool { return c.Rule == r }); len(rs) > 0 {
		p.rules[r.Subject] = rs
	} else {
		delete(p.rules, r.Subject)
	}
	if p.ruleDomains[r.Domain]--; p.ruleDomains[r.Domain] <= 0 {
		delete(p.ruleDomains, r.Domain)
	}
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
// (grants change rarely). It also rebuilds the index of names the grant
// lines contain.
func (p *Policy) rebuildRoles() error {
	clear(p.roles)
	clear(p.grantSubjects)
	clear(p.grantRoles)
	clear(p.grantDomains)
	lines, err := p.enf.GetGroupingPolicy()
	if err != nil {
		return err
	}
	for _, l := range lines {
		p.grantSubjects[l[0]], p.grantRoles[l[1]], p.grantDomains[l[2]] = true, true, true
	}
	return p.enf.BuildRoleLinks()
}

// subjects is sub followed by its roles in dom, transitively. Only a
// subject that some grant names has roles, and in a domain that no grant
// names only "*" grants apply, exactly as in "*" itself: so the cache is
// keyed by names from the grant lines alone, and Casbin's role manager is
// asked only about those (it builds per-domain state for a domain it is
// asked about).
func (p *Policy) subjects(sub, dom string) []string {
	if !p.grantSubjects[sub] {
		return []string{sub}
	}
	if !p.grantDomains[dom] {
		dom = AllDomains
	}
	k := [2]string{sub, dom}
	if s, ok := p.roles[k]; ok {
		return s
	}
	roles, _ := p.enf.GetImplicitRolesForUser(sub, dom) // an in-memory role manager does not fail
	s := append([]string{sub}, roles...)
	p.roles[k] = s
	return s
}

// decide is the decision of the model for (sub, dom, obj, act), with the
// subject's roles in dom. With why set it collects the rules that decided
// (every matching deny rule if one matched, else every matching allow
// rule); without, it stops at the first deny.
func (p *Policy) decide(sub, dom, obj, act string, why *[]Rule) bool {
	var allows, denies []Rule
	allow, deny := false, false
	check := func(rs []*compiledRule) bool { // false: stop
		for _, r := range rs {
			if (r.Domain == AllDomains || r.Domain == dom) && (r.Action == ActAll || r.Action == act) && r.obj.match(obj) {
				switch {
				case r.Deny:
					deny = true
					if why == nil {
						return false
					}
					denies = append(denies, r.Rule)
				default:
					allow = true
					if why != nil {
						allows = append(allows, r.Rule)
					}
				}
			}
		}
		return true
	}
	if check(p.rules[Anyone]) && sub != "" {
		for _, s := range p.subjects(sub, dom) {
			if s != Anyone && !check(p.rules[s]) {
				break
			}
		}
	}
	if why != nil {
		*why = allows
		if deny {
			*why = denies
		}
		slices.SortFunc(*why, func(a, b Rule) int { return strings.Compare(a.String(), b.String()) })
		*why = slices.Compact(*why)
	}
	return allow && !deny
}

// Allowed decides (sub, dom, obj, act) exactly as Casbin's Enforce on the
// model would, in time that depends on the subject's rules, not the policy's
// size. sub "" is an unauthenticated reader: only "anyone" rules apply.
func (p *Policy) Allowed(sub, dom, obj, act string) bool {
	return p.decide(sub, dom, obj, act, nil)
}

// IsChainAdmin reports whether sub holds AdminRole in AllDomains, directly
// or through roles granted in AllDomains. Only grants in "*" count, and only
// an admin of "*" may make or revoke those, so a domain admin can neither
// become one nor unmake one.
func (p *Policy) IsChainAdmin(sub string) bool {
	return sub != "" && slices.Contains(p.subjects(sub, AllDomains), AdminRole)
}

// IsAdmin reports whether sub may change dom's policy ("*": every domain's).
// A chain-wide admin is an admin of every domain by membership alone: no
// rule (a deny, or a missing allow) changes that, so a chain-wide admin can
// always repair the policy. Anyone else is an admin where the model allows
// the admin action on "*".
func (p *Policy) IsAdmin(sub, dom string) bool {
	return p.IsChainAdmin(sub) || p.Allowed(sub, dom, "*", ActAdmin)
}

// Explain decides like Allowed (like IsAdmin for the admin action on "*")
// and returns the rules that decided, sorted: the matching deny rules when
// one denied, else the matching allow rules; none when nothing matched or a
// chain-wide admin's membership decided an admin question.
func (p *Policy) Explain(sub, dom, obj, act string) (bool, []Rule) {
	if act == ActAdmin && obj == "*" && p.IsChainAdmin(sub) {
		return true, nil
	}
	var why []Rule
	ok := p.decide(sub, dom, obj, act, &why)
	return ok, why
}

// Knows reports whether a committed line names name as a subject or a role.
func (p *Policy) Knows(name string) bool {
	return len(p.rules[name]) > 0 || p.grantSubjects[name] || p.grantRoles[name]
}

// MayReadPolicy reports whether sub may read the whole policy: an admin of
// some domain, or a holder of AuditorRole in AllDomains.
func (p *Policy) MayReadPolicy(sub string) bool {
	if sub == "" {
		return false
	}
	if slices.Contains(p.subjects(sub, AllDomains), AuditorRole) || p.IsAdmin(sub, AllDomains) {
		return true
	}
	// Admin rights in a domain no line names are admin rights in "*".
	doms := map[string]bool{}
	for d := range p.grantDomains {
		doms[d] = true
	}
	for d := range p.ruleDomains {
		doms[d] = true
	}
	for _, d := range slices.Sorted(maps.Keys(doms)) {
		if p.IsAdmin(sub, d) {
			return true
		}
	}
	return false
}

// Lockout protection. Only a chain-wide admin may make a change that
// could take a chain-wide admin's rights away or make a new chain-wide
// admin; anyone else with admin rights gets ErrProtected for:
//
//   - a grant in AllDomains of AdminRole or of a role that holds it;
//   - a revoke of any grant whose subject is a chain-wide admin (or is
//     AdminRole itself);
//   - a deny rule whose subject is a chain-wide admin or AdminRole.
//
// With IsAdmin deciding chain-wide admins by membership, these keep a
// domain admin from locking them out of anything for good.

// CheckGrant reports whether signer may add g under the lockout rules.
func (p *Policy) CheckGrant(signer string, g Grant) error {
	if g.Domain != AllDomains || p.IsChainAdmin(signer) {
		return nil
	}
	if g.Role == AdminRole || p.IsChainAdmin(g.Role) {
		return fmt.Errorf("%w: %s: it makes %s a chain-wide admin", ErrProtected, g, g.Subject)
	}
	return nil
}

// CheckRevoke reports whether signer may remove g under the lockout rules.
func (p *Policy) CheckRevoke(signer string, g Grant) error {
	if p.IsChainAdmin(signer) {
		return nil
	}
	if g.Subject == AdminRole || p.IsChainAdmin(g.Subject) || (g.Role == AdminRole && g.Domain == AllDomains) {
		return fmt.Errorf("%w: %s: %s is a chain-wide admin", ErrProtected, g, g.Subject)
	}
	return nil
}

// CheckRule reports whether signer may add r under the lockout rules.
func (p *Policy) CheckRule(signer string, r Rule) error {
	if !r.Deny || p.IsChainAdmin(signer) {
		return nil
	}
	if r.Subject == AdminRole || p.IsChainAdmin(r.Subject) {
		return fmt.Errorf("%w: %s: it denies a chain-wide admin", ErrProtected, r)
	}
	return nil
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
