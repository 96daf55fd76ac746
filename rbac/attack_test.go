package rbac

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// Tests for the attacks of issue 10 that the rbac package answers: (6)
// queries that grow caches, (10) domain admins locking chain-wide admins
// out, (11) who may read the policy.

const (
	root  = "1111111111111111111111111111111111111111" // chain-wide admin (genesis)
	root2 = "2222222222222222222222222222222222222222" // chain-wide admin through a role
	b1adm = "b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1" // admin of bank1 only
	other = "9999999999999999999999999999999999999999" // no grants
	audit = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" // auditor in "*"
)

// consortium is a genesis-like policy: the admin rule, a genesis admin, a
// chain-wide admin through a role, bank1's admin, tellers and an auditor.
func consortium(t *testing.T) *Policy {
	t.Helper()
	p := New()
	for _, r := range []Rule{
		{Subject: AdminRole, Domain: AllDomains, Object: "*", Action: ActAll},
		{Subject: "teller", Domain: "bank1", Object: "bank1/payments/*", Action: ActWrite},
	} {
		if _, err := p.AddRule(r); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range []Grant{
		{Subject: root, Role: AdminRole, Domain: AllDomains},
		{Subject: "ops", Role: AdminRole, Domain: AllDomains},
		{Subject: root2, Role: "ops", Domain: AllDomains},
		{Subject: b1adm, Role: AdminRole, Domain: "bank1"},
		{Subject: "alice", Role: "teller", Domain: "bank1"},
		{Subject: audit, Role: AuditorRole, Domain: AllDomains},
	} {
		if _, err := p.AddGrant(g); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// TestAttackDenyLocksOutChainAdmin (attack 10): a deny rule in bank1 used
// to take the admin decision away from the genesis admins (deny wins, and
// IsAdmin went through the same decision); on ffeaeb3 IsAdmin(root, bank1)
// is false after these rules. Chain-wide admins now administer every
// domain by membership, whatever the rules say.
func TestAttackDenyLocksOutChainAdmin(t *testing.T) {
	p := consortium(t)
	for _, r := range []Rule{
		{Subject: Anyone, Domain: "bank1", Object: "*", Action: ActAll, Deny: true},
		{Subject: AdminRole, Domain: "bank1", Object: "*", Action: ActAdmin, Deny: true},
		{Subject: root, Domain: "bank1", Object: "*", Action: ActAdmin, Deny: true},
	} {
		if _, err := p.AddRule(r); err != nil {
			t.Fatal(err)
		}
	}
	if ok, _ := p.Enforce(root, "bank1", "*", ActAdmin); ok {
		t.Fatal("Casbin's own decision should deny here (the lockout this test is about)")
	}
	for _, sub := range []string{root, root2} {
		if !p.IsAdmin(sub, "bank1") || !p.IsAdmin(sub, AllDomains) {
			t.Errorf("chain-wide admin %s lost admin in bank1 to a domain's deny rule", sub)
		}
		if ok, _ := p.Explain(sub, "bank1", "*", ActAdmin); !ok {
			t.Errorf("Explain disagrees with IsAdmin for %s", sub)
		}
	}
	if p.IsAdmin(b1adm, "bank1") {
		t.Error("a domain admin is not exempt from deny rules")
	}
	// Removing the admin rule does not unmake chain-wide admins either.
	if _, err := p.RemoveRule(Rule{Subject: AdminRole, Domain: AllDomains, Object: "*", Action: ActAll}); err != nil {
		t.Fatal(err)
	}
	if !p.IsAdmin(root, "bank2") {
		t.Error("a chain-wide admin is an admin by membership, not by a rule")
	}
}

// TestLockoutRules (attack 10): what only a chain-wide admin may change.
func TestLockoutRules(t *testing.T) {
	p := consortium(t)
	if !p.IsChainAdmin(root) || !p.IsChainAdmin(root2) || !p.IsChainAdmin("ops") || !p.IsChainAdmin(AdminRole) {
		t.Fatal("chain-wide admins: root, root2 (through ops), ops, and the admin role itself")
	}
	if p.IsChainAdmin(b1adm) || p.IsChainAdmin(other) || p.IsChainAdmin("") || p.IsChainAdmin(audit) {
		t.Fatal("an admin of bank1, a stranger, an unsigned reader and an auditor are not chain-wide admins")
	}
	for _, c := range []struct {
		what   string
		signer string
		err    error
	}{
		{"deny root", b1adm, p.CheckRule(b1adm, Rule{Subject: root, Domain: "bank1", Object: "*", Action: ActAll, Deny: true})},
		{"deny root2", b1adm, p.CheckRule(b1adm, Rule{Subject: root2, Domain: "bank1", Object: "bank1/x", Action: ActRead, Deny: true})},
		{"deny ops", b1adm, p.CheckRule(b1adm, Rule{Subject: "ops", Domain: "bank1", Object: "*", Action: ActAdmin, Deny: true})},
		{"deny admin role", b1adm, p.CheckRule(b1adm, Rule{Subject: AdminRole, Domain: "bank1", Object: "*", Action: ActAdmin, Deny: true})},
		{"revoke root in bank1", b1adm, p.CheckRevoke(b1adm, Grant{Subject: root, Role: AdminRole, Domain: "bank1"})},
		{"revoke root's teller", b1adm, p.CheckRevoke(b1adm, Grant{Subject: root, Role: "teller", Domain: "bank1"})},
		{"revoke admin in *", b1adm, p.CheckRevoke(b1adm, Grant{Subject: other, Role: AdminRole, Domain: AllDomains})},
		{"grant admin in *", b1adm, p.CheckGrant(b1adm, Grant{Subject: b1adm, Role: AdminRole, Domain: AllDomains})},
		{"grant ops in *", b1adm, p.CheckGrant(b1adm, Grant{Subject: other, Role: "ops", Domain: AllDomains})},
	} {
		if !errors.Is(c.err, ErrProtected) {
			t.Errorf("%s by %s: want ErrProtected, got %v", c.what, c.signer, c.err)
		}
	}
	for _, c := range []struct {
		what string
		err  error
	}{
		{"domain admin denies a teller", p.CheckRule(b1adm, Rule{Subject: "alice", Domain: "bank1", Object: "*", Action: ActWrite, Deny: true})},
		{"domain admin denies anyone", p.CheckRule(b1adm, Rule{Subject: Anyone, Domain: "bank1", Object: "bank1/frozen", Action: ActWrite, Deny: true})},
		{"domain admin allows root", p.CheckRule(b1adm, Rule{Subject: root, Domain: "bank1", Object: "*", Action: ActRead})},
		{"domain admin revokes a teller", p.CheckRevoke(b1adm, Grant{Subject: "alice", Role: "teller", Domain: "bank1"})},
		{"domain admin grants admin in bank1", p.CheckGrant(b1adm, Grant{Subject: other, Role: AdminRole, Domain: "bank1"})},
		{"root denies root2", p.CheckRule(root, Rule{Subject: root2, Domain: "bank1", Object: "*", Action: ActAll, Deny: true})},
		{"root revokes root2", p.CheckRevoke(root, Grant{Subject: root2, Role: "ops", Domain: AllDomains})},
		{"root2 grants admin in *", p.CheckGrant(root2, Grant{Subject: other, Role: AdminRole, Domain: AllDomains})},
	} {
		if c.err != nil {
			t.Errorf("%s: want nil, got %v", c.what, c.err)
		}
	}
}

// TestMayReadPolicy (attack 11): admins of any domain and chain-wide
// auditors read the policy; a self-made key does not.
func TestMayReadPolicy(t *testing.T) {
	p := consortium(t)
	if _, err := p.AddRule(Rule{Subject: "keeper", Domain: "vault", Object: "*", Action: ActAdmin}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.AddGrant(Grant{Subject: "k33p3r", Role: "keeper", Domain: "vault"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.AddGrant(Grant{Subject: "b1auditor", Role: AuditorRole, Domain: "bank1"}); err != nil {
		t.Fatal(err)
	}
	for sub, want := range map[string]bool{
		root: true, root2: true, b1adm: true, audit: true, "k33p3r": true,
		other: false, "alice": false, "": false, "b1auditor": false, // auditor only counts in "*"
	} {
		if got := p.MayReadPolicy(sub); got != want {
			t.Errorf("MayReadPolicy(%q) = %v, want %v", sub, got, want)
		}
	}
}

// TestAttackQueriesDoNotGrowCaches (attack 6): decisions about names no
// committed line contains leave no state behind. On ffeaeb3 every
// (subject, domain) asked about stayed in the roles cache.
func TestAttackQueriesDoNotGrowCaches(t *testing.T) {
	p := consortium(t)
	domsBefore, _ := p.enf.GetRoleManager().GetAllDomains()
	for i := range 2000 {
		dom := fmt.Sprintf("d%05d%s", i, strings.Repeat("x", 400))
		sub := fmt.Sprintf("%040x", i)
		key := dom + "/k"
		for _, s := range []string{sub, root, b1adm, "alice"} {
			p.Allowed(s, dom, key, ActRead)
			p.IsAdmin(s, dom)
			p.Explain(s, dom, key, ActWrite)
			p.MayReadPolicy(s)
		}
	}
	if len(p.roles) > 4*(len(p.grantDomains)+1) {
		t.Fatalf("roles cache has %d entries after queries about fresh names; only committed names may be cached", len(p.roles))
	}
	for k := range p.roles {
		if !p.grantSubjects[k[0]] || !p.grantDomains[k[1]] {
			t.Fatalf("cached %q in %.20q: not a name from the grant lines", k[0], k[1])
		}
	}
	domsAfter, _ := p.enf.GetRoleManager().GetAllDomains()
	if len(domsAfter) != len(domsBefore) {
		t.Fatalf("Casbin's role manager went from %d to %d domains", len(domsBefore), len(domsAfter))
	}
	// The decisions are still those of the model.
	if !p.Allowed("alice", "bank1", "bank1/payments/1", ActWrite) || p.Allowed("alice", "bank2", "bank2/payments/1", ActWrite) {
		t.Fatal("alice's teller role")
	}
	if !p.Allowed(root, "fresh", "fresh/k", ActRead) {
		t.Fatal("a chain-wide admin's '*' grant holds in a domain no line names")
	}
}

// TestExplainMatchesAllowed: Explain decides like Allowed and names the
// rules that decided.
func TestExplainMatchesAllowed(t *testing.T) {
	p := consortium(t)
	if _, err := p.AddRule(Rule{Subject: "teller", Domain: "bank1", Object: "bank1/payments/frozen", Action: ActWrite, Deny: true}); err != nil {
		t.Fatal(err)
	}
	ok, why := p.Explain("alice", "bank1", "bank1/payments/frozen", ActWrite)
	if ok || len(why) != 1 || why[0].String() != "p, teller, bank1, bank1/payments/frozen, write, deny" {
		t.Fatalf("deny: %v %v", ok, why)
	}
	ok, why = p.Explain("alice", "bank1", "bank1/payments/1", ActWrite)
	if !ok || len(why) != 1 || why[0].String() != "p, teller, bank1, bank1/payments/*, write, allow" {
		t.Fatalf("allow: %v %v", ok, why)
	}
	if ok, why = p.Explain(other, "bank1", "bank1/payments/1", ActWrite); ok || len(why) != 0 {
		t.Fatalf("default deny: %v %v", ok, why)
	}
	for _, sub := range []string{"", other, "alice", b1adm, root} {
		for _, key := range []string{"bank1/payments/1", "bank1/payments/frozen", "bank2/x"} {
			for _, act := range []string{ActRead, ActWrite} {
				ok, _ := p.Explain(sub, DomainOf(key), key, act)
				if ok != p.Allowed(sub, DomainOf(key), key, act) {
					t.Errorf("%q %s %s: Explain and Allowed disagree", sub, act, key)
				}
			}
		}
	}
}
