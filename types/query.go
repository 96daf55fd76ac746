package types

import (
	"crypto/sha256"
	"encoding/binary"
)

const querySignDomain = "dstt/query/v2\x00"

// QueryNonceSize is the length of a signed query's random nonce.
const QueryNonceSize = 16

// QuerySignBytes is what a reader signs to authenticate a query: a
// domain-separated SHA-256 of the chain id, the inner path and data, the
// nonce (each length-prefixed with a uvarint), then the height and the
// timestamp (8 bytes big-endian each). The nonce makes two identical
// queries sent in the same millisecond two different signed queries.
func QuerySignBytes(chainID, path string, data []byte, height uint64, timeUnixMs int64, nonce []byte) []byte {
	h := sha256.New()
	h.Write([]byte(querySignDomain))
	var n [binary.MaxVarintLen64]byte
	for _, b := range [][]byte{[]byte(chainID), []byte(path), data, nonce} {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))])
		h.Write(b)
	}
	var tail [16]byte
	binary.BigEndian.PutUint64(tail[:8], height)
	binary.BigEndian.PutUint64(tail[8:], uint64(timeUnixMs))
	h.Write(tail[:])
	return h.Sum(nil)
}
