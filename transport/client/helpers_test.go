package client_test

import "github.com/dstt/dstt/types/typestest"

var putOp = typestest.Put
