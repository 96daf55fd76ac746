package typestest

import "github.com/dstt/dstt/types"

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
