package storage

import (
	"encoding/binary"
	"fmt"
)

// On-disk layout of a PebbleStore (see doc.go for the full description).
//
//	data:  'd' | escape(key) | 0x00 0x01 | ^height (8 bytes BE) | ^index (4 bytes BE)
//	meta:  'm' | name
//
// escape replaces every 0x00 byte of the key with 0x00 0xFF. The escaped
// forms of distinct keys never prefix one another across the terminator,
// so all versions of one key are exactly the range
// ['d'|escape(key)|0x00 0x01, 'd'|escape(key)|0x00 0x02), keys sort in
// the same order as their raw bytes, and escape(prefix) is a byte prefix of
// escape(key) exactly when prefix is a prefix of key. Heights and indexes
// are inverted so that the newest version of a key sorts first.
const (
	dataTag = 'd'
	metaTag = 'm'

	escapeByte     = 0x00
	escapedZero    = 0xFF // 0x00 in a key is written as 0x00 0xFF
	terminatorByte = 0x01 // a key ends with 0x00 0x01
	keyEndByte     = 0x02 // 0x00 0x02 sorts after every version of a key

	versionLen = 12 // ^height (8) + ^index (4)
	// dataOverhead is the size of a data key beyond the escaped key bytes.
	dataOverhead = 1 + 2 + versionLen

	// Value flags: the first byte of every data value.
	flagValue     = 0x00
	flagTombstone = 0x01
)

// Meta keys. They sort after every data key because 'm' > 'd'.
var (
	metaFormatKey = []byte{metaTag, 'f', 'o', 'r', 'm', 'a', 't'}
	metaLastKey   = []byte{metaTag, 'l', 'a', 's', 't'}
	metaFloorKey  = []byte{metaTag, 'f', 'l', 'o', 'o', 'r'}
)

// formatVersion is written under metaFormatKey when a store is created and
// checked on every open.
const formatVersion = 1

// dataKeyLen returns the length of the data key for key.
func dataKeyLen(key []byte) int {
	n := len(key) + dataOverhead
	for _, c := range key {
		if c == escapeByte {
			n++
		}
	}
	return n
}

// putEscaped writes escape(key) to dst, which must be large enough, and
// returns the number of bytes written.
func putEscaped(dst, key []byte) int {
	n := 0
	for _, c := range key {
		dst[n] = c
		n++
		if c == escapeByte {
			dst[n] = escapedZero
			n++
		}
	}
	return n
}

// putDataKey writes the data key of (key, v) to dst, which must have length
// dataKeyLen(key).
func putDataKey(dst, key []byte, v Version) {
	dst[0] = dataTag
	n := 1 + putEscaped(dst[1:], key)
	dst[n] = escapeByte
	dst[n+1] = terminatorByte
	putVersion(dst[n+2:], v)
}

// putVersion writes the inverted version suffix to dst[:versionLen].
func putVersion(dst []byte, v Version) {
	binary.BigEndian.PutUint64(dst, ^v.Height)
	binary.BigEndian.PutUint32(dst[8:], ^v.Index)
}

// appendEscapedPrefix appends 'd' | escape(prefix) to dst: the smallest data
// key of any key starting with prefix.
func appendEscapedPrefix(dst, prefix []byte) []byte {
	dst = append(dst, dataTag)
	for _, c := range prefix {
		dst = append(dst, c)
		if c == escapeByte {
			dst = append(dst, escapedZero)
		}
	}
	return dst
}

// keyBounds returns the iterator bounds holding exactly the versions of key.
func keyBounds(key []byte) (lower, upper []byte) {
	n := dataKeyLen(key) - versionLen // 'd' | escape(key) | 0x00 0x01
	b := make([]byte, 2*n)
	b = appendEscapedPrefix(b[:0], key)
	b = append(b, escapeByte, terminatorByte)
	b = append(b, b...)
	b[2*n-1] = keyEndByte
	return b[:n:n], b[n:]
}

// versionSeekKey returns the data key of (key, v): seeking to it finds the
// newest version of key at or below v.
func versionSeekKey(key []byte, v Version) []byte {
	b := make([]byte, dataKeyLen(key))
	putDataKey(b, key, v)
	return b
}

// prefixBounds returns the iterator bounds holding the data keys of every
// key that starts with prefix.
func prefixBounds(prefix []byte) (lower, upper []byte) {
	lower = appendEscapedPrefix(nil, prefix)
	return lower, successor(lower)
}

// successor returns the smallest byte string greater than every string
// starting with b. b must contain a byte other than 0xFF (every data prefix
// starts with 'd').
func successor(b []byte) []byte {
	s := append([]byte(nil), b...)
	for len(s) > 0 && s[len(s)-1] == 0xFF {
		s = s[:len(s)-1]
	}
	if len(s) == 0 {
		return nil
	}
	s[len(s)-1]++
	return s
}

// splitDataKey splits a data key into its escaped user key (the bytes
// between the tag and the terminator) and its version.
func splitDataKey(k []byte) (escaped []byte, v Version, err error) {
	if len(k) < dataOverhead || k[0] != dataTag ||
		k[len(k)-versionLen-2] != escapeByte || k[len(k)-versionLen-1] != terminatorByte {
		return nil, Version{}, fmt.Errorf("storage: corrupt data key %x", k)
	}
	suffix := k[len(k)-versionLen:]
	v = Version{
		Height: ^binary.BigEndian.Uint64(suffix),
		Index:  ^binary.BigEndian.Uint32(suffix[8:]),
	}
	return k[1 : len(k)-versionLen-2], v, nil
}

// unescape reverses putEscaped into a new slice.
func unescape(escaped []byte) ([]byte, error) {
	out := make([]byte, 0, len(escaped))
	for i := 0; i < len(escaped); i++ {
		c := escaped[i]
		out = append(out, c)
		if c == escapeByte {
			if i+1 >= len(escaped) || escaped[i+1] != escapedZero {
				return nil, fmt.Errorf("storage: corrupt escaped key %x", escaped)
			}
			i++
		}
	}
	return out, nil
}

// decodeValue splits a stored value into its tombstone flag and a copy of
// the value bytes (nil for a tombstone, non-nil otherwise).
func decodeValue(raw []byte) (value []byte, deleted bool, err error) {
	if len(raw) == 0 {
		return nil, false, fmt.Errorf("storage: corrupt value: empty")
	}
	switch raw[0] {
	case flagValue:
		return append([]byte{}, raw[1:]...), false, nil
	case flagTombstone:
		return nil, true, nil
	default:
		return nil, false, fmt.Errorf("storage: corrupt value: flag %#x", raw[0])
	}
}

// encodeLast encodes the last committed height and app hash.
func encodeLast(height uint64, appHash []byte) []byte {
	b := make([]byte, 8, 8+len(appHash))
	binary.BigEndian.PutUint64(b, height)
	return append(b, appHash...)
}

// decodeLast reverses encodeLast.
func decodeLast(b []byte) (height uint64, appHash []byte, err error) {
	if len(b) < 8 {
		return 0, nil, fmt.Errorf("storage: corrupt last-commit record %x", b)
	}
	return binary.BigEndian.Uint64(b), append([]byte{}, b[8:]...), nil
}

// encodeUint64 encodes v as 8 big-endian bytes.
func encodeUint64(v uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, v)
}

// decodeUint64 reverses encodeUint64.
func decodeUint64(b []byte, what string) (uint64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("storage: corrupt %s record %x", what, b)
	}
	return binary.BigEndian.Uint64(b), nil
}
