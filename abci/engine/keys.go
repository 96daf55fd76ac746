package engine

import (
	"strings"

	"github.com/dstt/dstt/rbac"
)

// The engine keeps all of its state in one versioned store, in namespaces
// separated by a one-byte prefix (the full list is in doc.go; the others are
// declared beside the code that owns them). User keys live under nsUser, so
// no put can reach the engine's own records.
const (
	nsUser   = 'k' // k + user key -> value
	nsTx     = 't' // t + 32-byte tx hash -> encoded types.TxResult
	nsParams = 'p' // p -> JSON Params (written at genesis)
	// x + 32-byte replay id (types.ReplayID) -> the 32-byte hash of the
	// envelope that committed it. A tx's replay identity is what its
	// signatures cover, so every envelope around one signed body shares it.
	nsReplay = 'x'
)

func userKey(k string) []byte {
	b := make([]byte, 1+len(k))
	b[0] = nsUser
	copy(b[1:], k)
	return b
}

func txKey(hash []byte) []byte {
	b := make([]byte, 1+len(hash))
	b[0] = nsTx
	copy(b[1:], hash)
	return b
}

func replayKey(id [32]byte) []byte { return append([]byte{nsReplay}, id[:]...) }

var paramsKey = []byte{nsParams}

// nsRBAC holds the policy: r p \0 subject \0 domain \0 object \0 action \0
// effect for rules, r g \0 subject \0 role \0 domain for grants. Values are
// empty; the key is the line.
const nsRBAC = 'r'

func ruleKey(r rbac.Rule) []byte {
	eff := "allow"
	if r.Deny {
		eff = "deny"
	}
	return []byte(string([]byte{nsRBAC, 'p', 0}) + r.Subject + "\x00" + r.Domain + "\x00" + r.Object + "\x00" + r.Action + "\x00" + eff)
}

func grantKey(g rbac.Grant) []byte {
	return []byte(string([]byte{nsRBAC, 'g', 0}) + g.Subject + "\x00" + g.Role + "\x00" + g.Domain)
}

// decodePolicyKey turns a stored policy key back into a rule or a grant.
func decodePolicyKey(k []byte) (rule *rbac.Rule, grant *rbac.Grant, ok bool) {
	if len(k) < 3 || k[0] != nsRBAC || k[2] != 0 {
		return nil, nil, false
	}
	f := strings.Split(string(k[3:]), "\x00")
	switch {
	case k[1] == 'p' && len(f) == 5:
		return &rbac.Rule{Subject: f[0], Domain: f[1], Object: f[2], Action: f[3], Deny: f[4] == "deny"}, nil, true
	case k[1] == 'g' && len(f) == 3:
		return nil, &rbac.Grant{Subject: f[0], Role: f[1], Domain: f[2]}, true
	}
	return nil, nil, false
}
