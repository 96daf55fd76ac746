package typestest

import (
	"encoding/binary"
	"slices"

	"github.com/dstt/dstt/types"
)

// Variant is one re-encoding of a tx.
type Variant struct {
	Name  string
	Bytes []byte
}

// EnvelopeVariants returns the key-less variants of the canonical tx
// envelope txBytes. None of them is txBytes itself; each decodes to the
// same body (so it carries valid signatures over the same sign bytes).
func EnvelopeVariants(txBytes []byte) []Variant {
	var tx types.Tx
	if err := tx.Unmarshal(txBytes); err != nil {
		return nil
	}
	var out []Variant
	add := func(name string, b []byte) {
		if !slices.Equal(b, txBytes) {
			out = append(out, Variant{name, b})
		}
	}
	// Unknown fields: a varint field 15, a bytes field 99, at the end and
	// at the front.
	add("unknown-field-end", append(slices.Clone(txBytes), 0x78, 0x01))
	add("unknown-bytes-field-end", append(slices.Clone(txBytes), appendTag(nil, 99, 2, []byte("x"))...))
	add("unknown-field-front", append([]byte{0x78, 0x01}, txBytes...))
	// A repeated scalar field: an earlier empty body_bytes that the real
	// one overrides when decoding.
	add("repeated-body-field", append(appendTag(nil, 1, 2, nil), txBytes...))
	// Fields out of order: signatures before the body.
	var reordered []byte
	for _, s := range tx.Signatures {
		sb, _ := s.Marshal()
		reordered = appendTag(reordered, 2, 2, sb)
	}
	reordered = appendTag(reordered, 1, 2, tx.BodyBytes)
	add("fields-out-of-order", reordered)
	// A non-minimal length varint for the body.
	nm := append(nonMinimalLen([]byte{0x0a}, len(tx.BodyBytes)), tx.BodyBytes...)
	for _, s := range tx.Signatures {
		sb, _ := s.Marshal()
		nm = appendTag(nm, 2, 2, sb)
	}
	add("non-minimal-varint", nm)
	// An unknown field inside a signature.
	if len(tx.Signatures) > 0 {
		v := tx
		v.Signatures = slices.Clone(tx.Signatures)
		b := appendTag(nil, 1, 2, tx.BodyBytes)
		for i, s := range v.Signatures {
			sb, _ := s.Marshal()
			if i == 0 {
				sb = append(sb, 0x78, 0x01)
			}
			b = appendTag(b, 2, 2, sb)
		}
		add("unknown-field-in-signature", b)
	}
	// Duplicated and reordered signatures.
	if len(tx.Signatures) > 0 {
		v := types.Tx{BodyBytes: tx.BodyBytes, Signatures: append(slices.Clone(tx.Signatures), tx.Signatures[0])}
		b, _ := v.Marshal()
		add("duplicate-signature", b)
		v.Signatures = append([]types.Signature{tx.Signatures[0]}, tx.Signatures...)
		b, _ = v.Marshal()
		add("duplicate-signature-front", b)
	}
	if len(tx.Signatures) > 1 {
		v := types.Tx{BodyBytes: tx.BodyBytes, Signatures: slices.Clone(tx.Signatures)}
		slices.Reverse(v.Signatures)
		b, _ := v.Marshal()
		add("reordered-signatures", b)
		v.Signatures = tx.Signatures[:len(tx.Signatures)-1]
		b, _ = v.Marshal()
		add("dropped-signature", b)
	}
	return out
}

func appendTag(b []byte, field, wire int, payload []byte) []byte {
	b = binary.AppendUvarint(b, uint64(field<<3|wire))
	b = binary.AppendUvarint(b, uint64(len(payload)))
	return append(b, payload...)
}

// nonMinimalLen appends n as a varint padded with one redundant 0x80 byte
// group (valid for decoders, never produced by an encoder).
func nonMinimalLen(b []byte, n int) []byte {
	v := binary.AppendUvarint(nil, uint64(n))
	v[len(v)-1] |= 0x80
	v = append(v, 0x00)
	return append(b, v...)
}
