package client_test

import "github.com/dstt/dstt/types"

func putOp(k, v string) types.Op {
	return types.Op{Sum: &types.Op_Put{Put: &types.Put{Key: k, Value: []byte(v)}}}
}
