package audit

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/dstt/dstt/security"
)

// The node log file (see NodeLog): a header, then records
//
//	type (1 byte) | uvarint length | payload | CRC-32C of the preceding bytes (4 bytes, big-endian)
//
// type 'E': payload = Entry.Encode().
// type 'S': payload = uvarint seq | lp hash | lp public key | lp signature:
// an ed25519 signature by the node's audit key of NodeSignBytes(seq, hash),
// where (seq, hash) is the last entry before the record. Because entries
// are hash-chained, it covers that entry and every one before it.
const nodeLogMagic = "dstt-audit-node-v1\n"

const (
	recEntry = 'E'
	recSig   = 'S'
)

// Limits of the node log: one entry's encoding, and the bytes written by
// one batch (entries + signature), which bounds what a crash can leave torn
// at the end of the file.
const (
	MaxNodeEntryBytes = 256 << 10
	maxBatchBytes     = 1 << 20
	maxTornBytes      = maxBatchBytes + MaxNodeEntryBytes + 4096
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

const nodeSignTag = "dstt/audit/node/v1\x00"

// NodeSignBytes is the message the node's audit key signs to cover the
// chain up to (seq, hash).
func NodeSignBytes(seq uint64, hash []byte) []byte {
	b := append([]byte(nodeSignTag), binary.AppendUvarint(nil, seq)...)
	return append(b, hash...)
}

func appendRecord(b []byte, typ byte, payload []byte) []byte {
	start := len(b)
	b = append(b, typ)
	b = binary.AppendUvarint(b, uint64(len(payload)))
	b = append(b, payload...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b[start:], crcTable))
}

// nodeSig is a decoded 'S' record.
type nodeSig struct {
	Seq    uint64
	Hash   []byte
	PubKey []byte
	Sig    []byte
}

func (s nodeSig) encode() []byte {
	b := binary.AppendUvarint(nil, s.Seq)
	b = appendBytes(b, s.Hash)
	b = appendBytes(b, s.PubKey)
	return appendBytes(b, s.Sig)
}

func decodeNodeSig(p []byte) (nodeSig, error) {
	d := decoder{b: p}
	s := nodeSig{Seq: d.uvarint(), Hash: d.bytes(), PubKey: d.bytes(), Sig: d.bytes()}
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes in a signature record", len(d.b))
	}
	return s, d.err
}

// errTorn marks what a crash in the middle of a batch write can leave at
// the end of the file: an incomplete record, zeros, or complete entries
// without their signature. Anything else is corruption or tampering.
var errTorn = errors.New("torn write")

// zeroTail reports whether everything left in r is zero bytes.
func zeroTail(r *bufio.Reader) bool {
	for {
		b, err := r.ReadByte()
		if err != nil {
			return true
		}
		if b != 0 {
			return false
		}
	}
}

// nodeScan is what scanning a node log file found.
type nodeScan struct {
	entries    []Entry // only when keepEntries
	offsets    []int64 // record offset of each entry
	head       ChainHead
	signedHead ChainHead // head covered by the last valid signature
	signedEnd  int64     // file offset just after the last valid signature record
	sigs       int
	// tailErr describes what follows signedEnd when it is not a clean end of
	// file: a torn or unsigned tail, or corruption. tailBytes is its size.
	tailErr   error
	tailBytes int64
}

// scanNodeLog reads a node log, checking every record's CRC, the hash
// chain, and each signature against pub (nil: signatures are only
// decoded). A problem before the last valid signature is returned as a
// *VerifyError; what follows the last signature is reported in tailErr.
func scanNodeLog(r io.Reader, size int64, pub []byte, keepEntries bool) (*nodeScan, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	magic := make([]byte, len(nodeLogMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != nodeLogMagic {
		return nil, &VerifyError{Seq: 1, Err: ErrCorrupt, Detail: "not a dstt node audit log (bad header)"}
	}
	sc := &nodeScan{signedEnd: int64(len(nodeLogMagic))}
	v := NewVerifier(ChainHead{})
	off := int64(len(nodeLogMagic))
	var pending []Entry // entries since the last signature (for keepEntries)
	var pendingOffsets []int64
	var rec []byte
	fail := func(err error) (*nodeScan, error) {
		// Everything after the last good signature is the tail.
		sc.tailErr = err
		sc.tailBytes = size - sc.signedEnd
		sc.head = sc.signedHead
		return sc, nil
	}
	for {
		if off == size {
			break
		}
		typ, err := br.ReadByte()
		if err != nil {
			return fail(fmt.Errorf("%w: %w: short record at offset %d", errTorn, ErrCorrupt, off))
		}
		n, err := binary.ReadUvarint(br)
		if err != nil {
			return fail(fmt.Errorf("%w: %w: record header cut short at offset %d", errTorn, ErrCorrupt, off))
		}
		if typ == 0 && n == 0 && zeroTail(br) {
			return fail(fmt.Errorf("%w: %w: zero-filled tail from offset %d", errTorn, ErrCorrupt, off))
		}
		if n > MaxNodeEntryBytes+1024 {
			return fail(fmt.Errorf("%w: bad record length %d at offset %d", ErrCorrupt, n, off))
		}
		rec = binary.AppendUvarint(append(rec[:0], typ), n)
		hdr := len(rec)
		rec = append(rec, make([]byte, n+4)...)
		if _, err := io.ReadFull(br, rec[hdr:]); err != nil {
			return fail(fmt.Errorf("%w: %w: record at offset %d cut short", errTorn, ErrCorrupt, off))
		}
		body := rec[:len(rec)-4]
		if crc32.Checksum(body, crcTable) != binary.BigEndian.Uint32(rec[len(rec)-4:]) {
			return fail(&VerifyError{Seq: v.Head().Seq + 1, Err: ErrCorrupt, Detail: fmt.Sprintf("CRC mismatch in the record at offset %d", off)})
		}
		payload := body[hdr:]
		recOff := off
		off += int64(len(rec))
		switch typ {
		case recEntry:
			e, err := Decode(payload)
			if err != nil {
				return fail(&VerifyError{Seq: v.Head().Seq + 1, Err: ErrCorrupt, Detail: fmt.Sprintf("record at offset %d: %v", recOff, err)})
			}
			if err := v.Add(&e); err != nil {
				return fail(err)
			}
			pendingOffsets = append(pendingOffsets, recOff)
			if keepEntries {
				pending = append(pending, e)
			}
		case recSig:
			s, err := decodeNodeSig(payload)
			head := v.Head()
			if err != nil {
				return fail(&VerifyError{Seq: sc.signedHead.Seq + 1, Err: ErrCorrupt, Detail: fmt.Sprintf("signature record at offset %d: %v", recOff, err)})
			}
			if s.Seq != head.Seq || !bytes.Equal(s.Hash, head.Hash) {
				return fail(&VerifyError{Seq: sc.signedHead.Seq + 1, Err: ErrSignature,
					Detail: fmt.Sprintf("signature at offset %d covers %d:%X but the chain is at %s", recOff, s.Seq, s.Hash, head)})
			}
			if pub != nil && (!bytes.Equal(s.PubKey, pub) || !security.Verify(pub, NodeSignBytes(s.Seq, s.Hash), s.Sig)) {
				return fail(&VerifyError{Seq: sc.signedHead.Seq + 1, Err: ErrSignature,
					Detail: fmt.Sprintf("signature over seqs %d..%d (record at offset %d) does not verify with key %X", sc.signedHead.Seq+1, s.Seq, recOff, pub)})
			}
			sc.sigs++
			sc.signedHead = head
			sc.signedEnd = off
			sc.offsets = append(sc.offsets, pendingOffsets...)
			sc.entries = append(sc.entries, pending...)
			pending, pendingOffsets = pending[:0], pendingOffsets[:0]
		default:
			return fail(fmt.Errorf("%w: unknown record type %q at offset %d", ErrCorrupt, typ, recOff))
		}
	}
	sc.head = v.Head()
	if len(pendingOffsets) > 0 {
		return fail(&tornError{&VerifyError{Seq: sc.signedHead.Seq + 1, Err: ErrUnsigned,
			Detail: fmt.Sprintf("seqs %d..%d at the end of the file have no signature (a crash mid-write, or tampering)", sc.signedHead.Seq+1, v.Head().Seq)}})
	}
	return sc, nil
}

// tornError marks a *VerifyError as a possible torn write.
type tornError struct{ *VerifyError }

func (e *tornError) Unwrap() []error { return []error{e.VerifyError, errTorn} }

// NodeLogReport summarises a verified node log.
type NodeLogReport struct {
	Head       ChainHead // the last signed entry
	Entries    uint64
	Signatures int
}

// VerifyNodeLogFile verifies the node log at path with the node's audit
// public key: every record's CRC, the hash chain from seq 1, every
// signature, and that every entry is covered by a signature. With a
// non-zero anchor (a head known from elsewhere, e.g. the last one a SIEM
// received) it also detects truncation. Problems come back as a
// *VerifyError naming the first bad seq.
func VerifyNodeLogFile(path string, pub []byte, anchor ChainHead) (NodeLogReport, error) {
	f, err := os.Open(path)
	if err != nil {
		return NodeLogReport{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return NodeLogReport{}, err
	}
	sc, err := scanNodeLog(f, st.Size(), pub, anchor.Seq > 0)
	if err != nil {
		return NodeLogReport{}, err
	}
	rep := NodeLogReport{Head: sc.signedHead, Entries: sc.signedHead.Seq, Signatures: sc.sigs}
	if sc.tailErr != nil {
		var ve *VerifyError
		if errors.As(sc.tailErr, &ve) {
			return rep, ve
		}
		return rep, &VerifyError{Seq: sc.signedHead.Seq + 1, Err: ErrCorrupt, Detail: sc.tailErr.Error()}
	}
	if anchor.Seq > 0 {
		return rep, VerifyAnchored(sc.entries, ChainHead{}, anchor)
	}
	return rep, nil
}

// ReadNodeLogFile returns the signed entries of the node log at path (a
// torn or unsigned tail is left out), checking CRCs and the hash chain but
// not signatures. It works on the file of a running node.
func ReadNodeLogFile(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	sc, err := scanNodeLog(f, st.Size(), nil, true)
	if err != nil {
		return nil, err
	}
	return sc.entries, nil
}

// readRecord reads one record from r, checking its CRC.
func readRecord(r *bytes.Reader) (byte, []byte, error) {
	start := int(r.Size()) - r.Len()
	typ, err := r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, err := binary.ReadUvarint(r)
	if err != nil || n > uint64(r.Len()) {
		return 0, nil, fmt.Errorf("%w: bad record length", ErrCorrupt)
	}
	hdr := int(r.Size()) - r.Len() - start
	rec := make([]byte, hdr+int(n)+4)
	if _, err := r.ReadAt(rec, int64(start)); err != nil {
		return 0, nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if _, err := r.Seek(int64(start+len(rec)), io.SeekStart); err != nil {
		return 0, nil, err
	}
	body := rec[:len(rec)-4]
	if crc32.Checksum(body, crcTable) != binary.BigEndian.Uint32(rec[len(rec)-4:]) {
		return 0, nil, fmt.Errorf("%w: CRC mismatch", ErrCorrupt)
	}
	return typ, body[hdr:], nil
}
