package abci

// The engine keeps all of its state in one versioned store, in namespaces
// separated by a one-byte prefix. User keys live under nsUser, so no put can
// reach the engine's own records.
const (
	nsUser   = 'k' // k + user key -> value
	nsTx     = 't' // t + 32-byte tx hash -> encoded types.TxResult
	nsParams = 'p' // p -> JSON Params (written at genesis)
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

var paramsKey = []byte{nsParams}
