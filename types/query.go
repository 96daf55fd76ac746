package types

import (
	"crypto/sha256"
	"encoding/binary"
)

const querySignDomain = "dstt/query/v1\x00"

// QuerySignBytes is what a reader signs to authenticate a query: a
// domain-separated SHA-256 of the chain id, the inner path and data, the
// height and the timestamp.
func QuerySignBytes(chainID, path string, data []byte, height uint64, timeUnixMs int64) []byte {
	h := sha256.New()
	h.Write([]byte(querySignDomain))
	var n [binary.MaxVarintLen64]byte
	for _, b := range [][]byte{[]byte(chainID), []byte(path), data} {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))])
		h.Write(b)
	}
	var tail [16]byte
	binary.BigEndian.PutUint64(tail[:8], height)
	binary.BigEndian.PutUint64(tail[8:], uint64(timeUnixMs))
	h.Write(tail[:])
	return h.Sum(nil)
}
