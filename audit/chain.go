package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// ChainHead names the last entry of a chain: its sequence number and hash.
// The zero ChainHead is the empty chain.
type ChainHead struct {
	Seq  uint64
	Hash []byte
}

// IsZero reports whether h is the head of an empty chain.
func (h ChainHead) IsZero() bool { return h.Seq == 0 && len(h.Hash) == 0 }

// Equal reports whether two heads name the same entry.
func (h ChainHead) Equal(o ChainHead) bool { return h.Seq == o.Seq && bytes.Equal(h.Hash, o.Hash) }

// String is "SEQ:HASHHEX" ("0:" for the empty chain); ParseChainHead reads it.
func (h ChainHead) String() string { return fmt.Sprintf("%d:%X", h.Seq, h.Hash) }

// Chain appends entries to a hash chain. It is pure (no I/O, no clock) and
// deterministic: the same entries appended to the same head give the same
// bytes on every node. It is not safe for concurrent use.
type Chain struct {
	head ChainHead
}

// NewChain continues the chain whose last entry is head (the zero head for
// a new chain).
func NewChain(head ChainHead) *Chain {
	return &Chain{head: ChainHead{Seq: head.Seq, Hash: cloneBytes(head.Hash)}}
}

// Append sets e's Seq (head + 1), PrevHash (the head's hash) and Hash, makes
// Time UTC (without a monotonic reading), advances the head and returns the
// completed entry. Whatever e held in those fields is overwritten; e's
// slices are copied, so the caller may reuse them.
func (c *Chain) Append(e Entry) Entry {
	e = e.Clone()
	e.Seq = c.head.Seq + 1
	e.PrevHash = cloneBytes(c.head.Hash)
	if !e.Time.IsZero() {
		e.Time = e.Time.UTC().Round(0)
	}
	e.Hash = e.ComputeHash()
	c.head = ChainHead{Seq: e.Seq, Hash: e.Hash}
	return e
}

// Head returns the last entry's sequence number and hash.
func (c *Chain) Head() ChainHead {
	return ChainHead{Seq: c.head.Seq, Hash: cloneBytes(c.head.Hash)}
}

// appHashTag separates the app hash from every other SHA-256 in dstt.
const appHashTag = "dstt/apphash/audit/v1\x00"

// AppHash is the app hash that folds the audit chain into consensus:
//
//	SHA-256(tag || uvarint(len(stateHash)) || stateHash || uvarint(head.Seq) || uvarint(len(head.Hash)) || head.Hash)
//
// with tag = "dstt/apphash/audit/v1\x00". The engine reports it to
// CometBFT; VerifyAgainstCommit recomputes it from a HeadResponse. When
// neither the state hash nor the head changes (an empty block), neither does
// the app hash.
func AppHash(stateHash []byte, head ChainHead) []byte {
	h := sha256.New()
	h.Write([]byte(appHashTag))
	var buf [binary.MaxVarintLen64]byte
	put := func(x uint64) { h.Write(buf[:binary.PutUvarint(buf[:], x)]) }
	put(uint64(len(stateHash)))
	h.Write(stateHash)
	put(head.Seq)
	put(uint64(len(head.Hash)))
	h.Write(head.Hash)
	return h.Sum(nil)
}

// ParseChainHead reads "SEQ:HASHHEX" as printed by ChainHead.String.
func ParseChainHead(s string) (ChainHead, error) {
	seqText, hashText, ok := strings.Cut(s, ":")
	if !ok {
		return ChainHead{}, fmt.Errorf("audit: chain head %q: want SEQ:HASHHEX", s)
	}
	seq, err := strconv.ParseUint(seqText, 10, 64)
	if err != nil {
		return ChainHead{}, fmt.Errorf("audit: chain head %q: sequence: %v", s, err)
	}
	hash, err := hex.DecodeString(hashText)
	if err != nil {
		return ChainHead{}, fmt.Errorf("audit: chain head %q: hash: %v", s, err)
	}
	if (seq == 0) != (len(hash) == 0) || (seq != 0 && len(hash) != sha256.Size) {
		return ChainHead{}, fmt.Errorf("audit: chain head %q: want SEQ:HASH with a non-zero sequence and a 32-byte hash, or 0: for none", s)
	}
	return ChainHead{Seq: seq, Hash: cloneBytes(hash)}, nil
}

// AppendEncoded is Append for a caller that hands e over (its slices are
// not copied) and wants the stored form too: it encodes the entry once,
// hashes that body, and returns the completed entry with Encode()'s bytes.
// The block engine uses it on its hot path.
func (c *Chain) AppendEncoded(e Entry) (Entry, []byte) {
	e.Seq = c.head.Seq + 1
	e.PrevHash = c.head.Hash
	if !e.Time.IsZero() {
		e.Time = e.Time.UTC().Round(0)
	}
	b := e.appendBody(make([]byte, 0, e.size()+1+sha256.Size))
	sum := sha256.Sum256(b)
	e.Hash = sum[:]
	c.head = ChainHead{Seq: e.Seq, Hash: e.Hash}
	return e, appendBytes(b, e.Hash)
}
