package types

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// signDomain separates dstt tx signatures from every other use of a key.
const signDomain = "dstt/tx/v1\x00"

// AddressLen is the length of an Address in bytes.
const AddressLen = 20

// SignBytes is what every signer of a tx signs: SHA-256 over a domain tag,
// the length-prefixed chain id and the body bytes exactly as sent.
func SignBytes(chainID string, bodyBytes []byte) []byte {
	h := sha256.New()
	h.Write([]byte(signDomain))
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(chainID)))])
	h.Write([]byte(chainID))
	h.Write(bodyBytes)
	return h.Sum(nil)
}

// TxHash is the SHA-256 of the tx bytes, as CometBFT computes it.
func TxHash(txBytes []byte) []byte {
	sum := sha256.Sum256(txBytes)
	return sum[:]
}

// TxHashHex is TxHash in upper-case hex, the form CometBFT's RPC prints.
func TxHashHex(txBytes []byte) string {
	return strings.ToUpper(hex.EncodeToString(TxHash(txBytes)))
}

// Address derives a signer's address from its ed25519 public key: the first
// 20 bytes of its SHA-256, as 40 lowercase hex digits.
func Address(pubKey []byte) string {
	sum := sha256.Sum256(pubKey)
	return hex.EncodeToString(sum[:AddressLen])
}

// IsAddress reports whether s is an address as Address spells it: 40
// lowercase hex digits.
func IsAddress(s string) bool {
	if len(s) != 2*AddressLen {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// ErrBadVersion is returned by ParseVersion for text that is not a version.
var ErrBadVersion = errors.New("types: bad version (want HEIGHT.INDEX, e.g. 12.0, or 0 for none)")

// IsZero reports whether v is the zero version ("no value").
func (v Version) IsZero() bool { return v.Height == 0 && v.TxIndex == 0 }

// Less orders versions by height, then tx index.
func (v Version) Less(o Version) bool {
	if v.Height != o.Height {
		return v.Height < o.Height
	}
	return v.TxIndex < o.TxIndex
}

// Text renders v as HEIGHT.INDEX ("0" for the zero version).
func (v Version) Text() string {
	if v.IsZero() {
		return "0"
	}
	return fmt.Sprintf("%d.%d", v.Height, v.TxIndex)
}

// ParseVersion parses the Text form: "HEIGHT.INDEX", or "0" for none.
func ParseVersion(s string) (Version, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return Version{}, nil
	}
	hs, is, ok := strings.Cut(s, ".")
	if !ok {
		return Version{}, fmt.Errorf("%w: %q", ErrBadVersion, s)
	}
	h, err1 := strconv.ParseUint(hs, 10, 64)
	i, err2 := strconv.ParseUint(is, 10, 32)
	if err1 != nil || err2 != nil || h == 0 {
		return Version{}, fmt.Errorf("%w: %q", ErrBadVersion, s)
	}
	return Version{Height: h, TxIndex: uint32(i)}, nil
}

// DecodeTx decodes a tx envelope and its body. It checks only the encoding.
func DecodeTx(txBytes []byte) (*Tx, *TxBody, error) {
	var tx Tx
	if err := tx.Unmarshal(txBytes); err != nil {
		return nil, nil, fmt.Errorf("types: decode tx: %w", err)
	}
	var body TxBody
	if err := body.Unmarshal(tx.BodyBytes); err != nil {
		return nil, nil, fmt.Errorf("types: decode tx body: %w", err)
	}
	return &tx, &body, nil
}
