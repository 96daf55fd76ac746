package audit

import (
	"fmt"
	"time"
)

// sampleEntries returns n unchained entries with varied fields, in block
// order (a few txs per block), times from a fixed base.
func sampleEntries(n int) []Entry {
	base := time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)
	out := make([]Entry, n)
	for i := range out {
		h := uint64(i/3 + 2)
		e := Entry{
			Height: h, TxIndex: uint32(i % 3), Time: base.Add(time.Duration(h) * time.Second),
			Kind: KindTxCommitted, Actor: fmt.Sprintf("%040x", i%5), Action: "put",
			Resources: []string{fmt.Sprintf("key-%d", i)}, CodeName: "OK", Message: "committed",
			TxHash: []byte(fmt.Sprintf("%032d", i)),
		}
		if i%7 == 3 {
			e.Kind, e.Code, e.CodeName, e.Message = KindTxRejected, 9, "CONFLICT", `op 0: key "a|b=c\d" is at version 3.0, the tx expected 0`
			e.Action = "batch"
			e.Resources = []string{"a|b=c\\d", "line\nbreak"}
		}
		out[i] = e
	}
	return out
}

// chained returns sampleEntries(n) appended to a new chain.
func chained(n int) []Entry {
	c := NewChain(ChainHead{})
	es := sampleEntries(n)
	for i := range es {
		es[i] = c.Append(es[i])
	}
	return es
}
