package main

import (
	"strings"
	"testing"
)

// TestGovShowText: the last line says how many more orgs must sign, or that
// the proposal cannot pass when fewer member orgs are left than it needs
// (a chain without member orgs: k is 1, nobody can approve).
func TestGovShowText(t *testing.T) {
	for _, tc := range []struct {
		name string
		out  govShowJSON
		want string
	}{
		{"more", govShowJSON{Threshold: 2, Needed: 1, ApprovingOrgs: []string{"org1"}, Orgs: []string{"org1", "org2", "org3"}},
			"needs 1 more: admins of 1 of org2, org3 must sign (dstt gov sign p.json --from ADMIN)\n"},
		{"enough", govShowJSON{Threshold: 1, ApprovingOrgs: []string{"org1"}, Orgs: []string{"org1"}},
			"enough approvals: dstt gov submit p.json\n"},
		{"no orgs", govShowJSON{Threshold: 1, Needed: 1, ApprovingOrgs: []string{}, Orgs: []string{}},
			"needs 1 more, but only 0 member orgs have not approved (-): it cannot pass with the chain's members\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.out.File = "p.json"
			var b strings.Builder
			tc.out.text(&b)
			if !strings.HasSuffix(b.String(), tc.want) {
				t.Errorf("got\n%s\nwant it to end with\n%s", b.String(), tc.want)
			}
		})
	}
}
