package typestest

import (
	"github.com/dstt/dstt/rbac"
	"github.com/dstt/dstt/types"
)

// Put is the op that writes value v under key k.
func Put(k, v string) types.Op {
	return types.Op{Sum: &types.Op_Put{Put: &types.Put{Key: k, Value: []byte(v)}}}
}

// Delete is the op that deletes key k.
func Delete(k string) types.Op {
	return types.Op{Sum: &types.Op_Delete{Delete: &types.Delete{Key: k}}}
}

// Check is the op that requires key k to be at version v.
func Check(k string, v types.Version) types.Op {
	return types.Op{Sum: &types.Op_Check{Check: &types.Check{Key: k, Version: v}}}
}

// Policy is the op that adds rule r to the policy, or removes it when
// remove is true.
func Policy(r rbac.Rule, remove bool) types.Op {
	return types.Op{Sum: &types.Op_Policy{Policy: &types.PolicyRule{Subject: r.Subject, Domain: r.Domain, Object: r.Object, Action: r.Action, Deny: r.Deny, Remove: remove}}}
}

// Grant is the op that grants role in domain dom to subject sub.
func Grant(sub, role, dom string) types.Op {
	return types.Op{Sum: &types.Op_Grant{Grant: &types.Grant{Subject: sub, Role: role, Domain: dom}}}
}

// Revoke is the op that revokes role in domain dom from subject sub.
func Revoke(sub, role, dom string) types.Op {
	return types.Op{Sum: &types.Op_Revoke{Revoke: &types.Revoke{Subject: sub, Role: role, Domain: dom}}}
}

// AddValidator is the op that adds the named test key as a validator of
// org with power.
func AddValidator(key string, power int64, org string) types.Op {
	return types.Op{Sum: &types.Op_AddValidator{AddValidator: &types.AddValidator{PubKey: Key(key).PubKey(), Power: power, Org: org}}}
}
