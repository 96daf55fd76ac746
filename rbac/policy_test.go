package rbac

import (
	"errors"
	"fmt"
	"math/rand"
	"testing"

	"github.com/casbin/casbin/v2/util"
)

func TestDomainOf(t *testing.T) {
	for key, want := range map[string]string{
		"bank1/payments/7": "bank1", "greeting": DefaultDomain, "/x": DefaultDomain, "a/": "a",
	} {
		if got := DomainOf(key); got != want {
			t.Errorf("DomainOf(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestCompileObjectMatchesKeyMatch2(t *testing.T) {
	pats := []string{"a/b", "a/*", "a/:id", "a/:id/b", "a/*/c", "a.b/*", "a/b*", "x", "a/:x/*"}
	keys := []string{"a/b", "a/b/c", "a/", "a", "a/x/b", "a/x/c", "axb/q", "a.b/q", "a/bc", "x", "a/x/y/z"}
	for _, p := range pats {
		m, err := compileObject(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if got, want := m.match(k), util.KeyMatch2(k, p); got != want {
				t.Errorf("pattern %q key %q: compiled %v, KeyMatch2 %v", p, k, got, want)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	bad := []Rule{
		{Subject: "", Domain: "d", Object: "*", Action: "read"},
		{Subject: "s", Domain: "d d", Object: "*", Action: "read"},
		{Subject: "s", Domain: "d", Object: "a(", Action: "read"},
		{Subject: "s", Domain: "d", Object: "a,b", Action: "read"},
		{Subject: "s", Domain: "d", Object: "*", Action: "fly"},
	}
	for _, r := range bad {
		if err := r.Validate(); !errors.Is(err, ErrBadRule) {
			t.Errorf("%v: want ErrBadRule, got %v", r, err)
		}
	}
	p := New()
	if _, err := p.AddRule(Rule{Subject: "s", Domain: "d", Object: "a(", Action: "read"}); err == nil {
		t.Fatal("a pattern that does not compile was accepted (Casbin would panic on it)")
	}
	if err := (Grant{Subject: "anyone", Role: "r", Domain: "d"}).Validate(); !errors.Is(err, ErrBadGrant) {
		t.Fatal("granting a role to anyone must be refused")
	}
}

func TestDecisions(t *testing.T) {
	p := New()
	must := func(ok bool, err error) {
		t.Helper()
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	must(p.AddRule(Rule{Subject: "teller", Domain: "bank1", Object: "bank1/payments/*", Action: ActWrite}))
	must(p.AddRule(Rule{Subject: "auditor", Domain: "*", Object: "*", Action: ActRead}))
	must(p.AddRule(Rule{Subject: "auditor", Domain: "*", Object: "*", Action: ActWrite, Deny: true}))
	must(p.AddRule(Rule{Subject: "teller", Domain: "bank1", Object: "bank1/payments/frozen", Action: ActWrite, Deny: true}))
	must(p.AddRule(Rule{Subject: Anyone, Domain: "public", Object: "public/*", Action: ActRead}))
	must(p.AddGrant(Grant{Subject: "alice", Role: "teller", Domain: "bank1"}))
	must(p.AddGrant(Grant{Subject: "carol", Role: "auditor", Domain: "*"}))
	must(p.AddGrant(Grant{Subject: "bob", Role: "teller", Domain: "bank1"}))
	must(p.AddGrant(Grant{Subject: "bob", Role: "auditor", Domain: "*"}))
	for _, c := range []struct {
		sub, key, act string
		want          bool
	}{
		{"alice", "bank1/payments/1", ActWrite, true},
		{"alice", "bank1/payments/frozen", ActWrite, false}, // deny beats allow
		{"alice", "bank2/payments/1", ActWrite, false},      // role only in bank1
		{"alice", "bank1/payments/1", ActRead, false},       // no read rule
		{"carol", "bank2/x", ActRead, true},                 // role in every domain
		{"carol", "bank2/x", ActWrite, false},
		{"bob", "bank1/payments/1", ActWrite, false}, // auditor's deny wins over teller's allow
		{"dave", "public/notice", ActRead, true},     // anyone
		{"", "public/notice", ActRead, true},         // unauthenticated reader
		{"", "bank1/payments/1", ActRead, false},
	} {
		if got := p.Allowed(c.sub, DomainOf(c.key), c.key, c.act); got != c.want {
			t.Errorf("%s %s %s: got %v want %v", c.sub, c.act, c.key, got, c.want)
		}
		if got, err := p.Enforce(c.sub, DomainOf(c.key), c.key, c.act); err != nil || got != c.want {
			t.Errorf("casbin %s %s %s: got %v want %v (%v)", c.sub, c.act, c.key, got, c.want, err)
		}
	}
	must(p.RemoveGrant(Grant{Subject: "bob", Role: "auditor", Domain: "*"}))
	if !p.Allowed("bob", "bank1", "bank1/payments/1", ActWrite) {
		t.Fatal("after revoking auditor, bob's teller role should allow the write")
	}
	if ok, _ := p.RemoveRule(Rule{Subject: "x", Domain: "d", Object: "*", Action: "read"}); ok {
		t.Fatal("removing an absent rule reported true")
	}
}

// TestAllowedMatchesCasbin: on random policies, the indexed fast path
// decides every request exactly as Casbin's Enforce does.
func TestAllowedMatchesCasbin(t *testing.T) {
	subs := []string{"u1", "u2", "u3", "r1", "r2", "r3", Anyone}
	doms := []string{"d1", "d2", "*"}
	objs := []string{"*", "d1/a", "d1/*", "d2/*", "d1/:x", "d2/a/*", "d1/a/b"}
	acts := []string{ActRead, ActWrite, ActAdmin, ActAll}
	keys := []string{"d1/a", "d1/b", "d1/a/b", "d2/a", "d2/a/x", "d2/b"}
	for seed := int64(1); seed <= 40; seed++ {
		rng := rand.New(rand.NewSource(seed))
		p := New()
		for range 12 {
			r := Rule{Subject: subs[rng.Intn(len(subs))], Domain: doms[rng.Intn(len(doms))], Object: objs[rng.Intn(len(objs))], Action: acts[rng.Intn(len(acts))], Deny: rng.Intn(4) == 0}
			if _, err := p.AddRule(r); err != nil {
				t.Fatal(err)
			}
		}
		for range 6 {
			g := Grant{Subject: subs[rng.Intn(3)], Role: subs[3+rng.Intn(3)], Domain: doms[rng.Intn(len(doms))]}
			if rng.Intn(3) == 0 { // role hierarchy
				g.Subject = subs[3+rng.Intn(3)]
			}
			if g.Subject == g.Role {
				continue
			}
			if _, err := p.AddGrant(g); err != nil {
				t.Fatal(err)
			}
		}
		for _, sub := range append([]string{""}, subs[:3]...) {
			for _, k := range keys {
				for _, a := range acts[:3] {
					want, err := p.Enforce(sub, DomainOf(k), k, a)
					if err != nil {
						t.Fatal(err)
					}
					if sub == "" { // Casbin's g("", anyone-rule subject) never matches either
						want, _ = p.Enforce("\x00nobody", DomainOf(k), k, a)
					}
					if got := p.Allowed(sub, DomainOf(k), k, a); got != want {
						t.Fatalf("seed %d: %q %s %s: Allowed %v, Casbin %v\nrules %v\ngrants %v", seed, sub, a, k, got, want, p.Rules(), p.Grants())
					}
				}
			}
		}
	}
}

// BenchmarkAllowed: a decision with a 1,000-line policy.
func BenchmarkAllowed(b *testing.B) {
	p := New()
	for i := range 1000 {
		if _, err := p.AddRule(Rule{Subject: fmt.Sprintf("role%d", i%50), Domain: fmt.Sprintf("org%d", i%10), Object: fmt.Sprintf("org%d/data%d/*", i%10, i), Action: ActWrite}); err != nil {
			b.Fatal(err)
		}
	}
	p.AddGrant(Grant{Subject: "alice", Role: "role1", Domain: "org1"})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !p.Allowed("alice", "org1", fmt.Sprintf("org1/data1/x%d", i), ActWrite) {
			b.Fatal("denied")
		}
	}
}

// TestIncrementalEqualsFresh: a policy changed line by line decides like a
// policy built fresh from its final lines (Casbin's incremental role links
// with "*" domains once drifted: see rebuildRoles).
func TestIncrementalEqualsFresh(t *testing.T) {
	users := []string{"u1", "u2", "u3"}
	roles := []string{"r1", "r2"}
	doms := []string{"d1", "d2", "*"}
	for seed := int64(1); seed <= 50; seed++ {
		rng := rand.New(rand.NewSource(seed))
		live := New()
		for _, r := range roles {
			for _, d := range doms[:2] {
				live.AddRule(Rule{Subject: r, Domain: d, Object: "*", Action: ActRead})
			}
		}
		for range 30 {
			g := Grant{Subject: users[rng.Intn(3)], Role: roles[rng.Intn(2)], Domain: doms[rng.Intn(3)]}
			if rng.Intn(3) == 0 {
				live.RemoveGrant(g)
			} else {
				live.AddGrant(g)
			}
			fresh := New()
			for _, r := range live.Rules() {
				fresh.AddRule(r)
			}
			for _, g := range live.Grants() {
				fresh.AddGrant(g)
			}
			for _, u := range users {
				for _, d := range doms[:2] {
					if a, b := live.Allowed(u, d, d+"/k", ActRead), fresh.Allowed(u, d, d+"/k", ActRead); a != b {
						t.Fatalf("seed %d: %s read in %s: live %v, fresh %v; grants %v", seed, u, d, a, b, live.Grants())
					}
				}
			}
		}
	}
}
