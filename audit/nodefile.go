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

	sigverify "github.com/dstt/dstt/security/verify"
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
// type 'G': payload = uvarint from seq | lp from hash | uvarint to seq |
// lp to hash | lp public key | lp signature of NodeGapSignBytes(from, to):
// a gap the operator accepted (OpenNodeLog with AcceptTruncated). Entries
// from.Seq+1 .. to.Seq were lost; the chain resumes after to, the highest
// entry the node had ever written, so no sequence number is used twice.
// It follows a signature record (or the header) directly.
//
// Beside the log, PATH.hwm keeps the high-water mark: the highest (seq,
// hash) ever written, updated after every batch, so that a log cut back to
// an earlier signature (or deleted) is noticed.
const nodeLogMagic = "dstt-audit-node-v1\n"

const (
	recEntry = 'E'
	recSig   = 'S'
	recGap   = 'G'
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

const nodeGapTag = "dstt/audit/node/gap/v1\x00"

// NodeGapSignBytes is the message the node's audit key signs to record a
// gap: the chain continues after to, although the log ends at from.
func NodeGapSignBytes(from, to ChainHead) []byte {
	b := append([]byte(nodeGapTag), binary.AppendUvarint(nil, from.Seq)...)
	b = appendBytes(b, from.Hash)
	b = binary.AppendUvarint(b, to.Seq)
	return appendBytes(b, to.Hash)
}

// Gap is a stretch of a node log the operator accepted as lost: the
// entries after From up to and including To. The chain resumes after To.
type Gap struct {
	From ChainHead
	To   ChainHead
}

// Lost is the number of sequence numbers the gap gave up.
func (g Gap) Lost() uint64 { return g.To.Seq - g.From.Seq }

// nodeGap is a decoded 'G' record.
type nodeGap struct {
	Gap
	PubKey []byte
	Sig    []byte
}

func (g nodeGap) encode() []byte {
	b := binary.AppendUvarint(nil, g.From.Seq)
	b = appendBytes(b, g.From.Hash)
	b = binary.AppendUvarint(b, g.To.Seq)
	b = appendBytes(b, g.To.Hash)
	b = appendBytes(b, g.PubKey)
	return appendBytes(b, g.Sig)
}

func decodeNodeGap(p []byte) (nodeGap, error) {
	d := decoder{b: p}
	var g nodeGap
	g.From.Seq = d.uvarint()
	g.From.Hash = d.bytes()
	g.To.Seq = d.uvarint()
	g.To.Hash = d.bytes()
	g.PubKey, g.Sig = d.bytes(), d.bytes()
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes in a gap record", len(d.b))
	}
	if len(g.From.Hash) == 0 {
		g.From.Hash = nil
	}
	return g, d.err
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
	offsets    []int64 // record offset of each entry, in file order
	segs       []logSegment
	gaps       []Gap
	head       ChainHead
	signedHead ChainHead // head covered by the last valid signature (or gap record)
	signedEnd  int64     // file offset just after the last valid signature record
	sigs       int
	// maxSeen is the highest entry that decoded and chained, signed or not
	// (or a gap's end): sequence numbers up to it have been used.
	maxSeen ChainHead
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
	sc := &nodeScan{signedEnd: int64(len(nodeLogMagic)), segs: []logSegment{{first: 1}}}
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
			if e.Seq > sc.maxSeen.Seq {
				sc.maxSeen = ChainHead{Seq: e.Seq, Hash: e.Hash}
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
			if pub != nil && (!bytes.Equal(s.PubKey, pub) || !sigverify.Signature(pub, NodeSignBytes(s.Seq, s.Hash), s.Sig)) {
				return fail(&VerifyError{Seq: sc.signedHead.Seq + 1, Err: ErrSignature,
					Detail: fmt.Sprintf("signature over seqs %d..%d (record at offset %d) does not verify with key %X", sc.signedHead.Seq+1, s.Seq, recOff, pub)})
			}
			sc.sigs++
			sc.signedHead = head
			sc.signedEnd = off
			sc.offsets = append(sc.offsets, pendingOffsets...)
			sc.entries = append(sc.entries, pending...)
			pending, pendingOffsets = pending[:0], pendingOffsets[:0]
		case recGap:
			g, err := decodeNodeGap(payload)
			head := v.Head()
			switch {
			case err != nil:
				return fail(&VerifyError{Seq: head.Seq + 1, Err: ErrCorrupt, Detail: fmt.Sprintf("gap record at offset %d: %v", recOff, err)})
			case len(pendingOffsets) > 0:
				return fail(&VerifyError{Seq: sc.signedHead.Seq + 1, Err: ErrUnsigned, Detail: fmt.Sprintf("gap record at offset %d follows unsigned entries", recOff)})
			case !g.From.Equal(head) || g.To.Seq < g.From.Seq || g.To.Equal(g.From) || len(g.To.Hash) != sha256Size:
				return fail(&VerifyError{Seq: head.Seq + 1, Err: ErrLink, Detail: fmt.Sprintf("gap record at offset %d runs %s..%s but the chain is at %s", recOff, g.From, g.To, head)})
			case pub != nil && (!bytes.Equal(g.PubKey, pub) || !sigverify.Signature(pub, NodeGapSignBytes(g.From, g.To), g.Sig)):
				return fail(&VerifyError{Seq: head.Seq + 1, Err: ErrSignature, Detail: fmt.Sprintf("gap record at offset %d does not verify with key %X", recOff, pub)})
			}
			v = NewVerifier(g.To)
			sc.gaps = append(sc.gaps, g.Gap)
			sc.segs = append(sc.segs, logSegment{first: g.To.Seq + 1, idx: len(sc.offsets)})
			sc.signedHead = g.To
			sc.signedEnd = off
			if g.To.Seq > sc.maxSeen.Seq {
				sc.maxSeen = g.To
			}
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
	Entries    uint64    // entries in the file (Head.Seq less the gaps)
	Signatures int
	// Gaps are stretches an operator accepted as lost (start with
	// --accept-truncated-node-log); each is signed by the node's audit key.
	Gaps []Gap
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
	rep := NodeLogReport{Head: sc.signedHead, Entries: uint64(len(sc.offsets)), Signatures: sc.sigs, Gaps: sc.gaps}
	if sc.tailErr != nil {
		var ve *VerifyError
		if errors.As(sc.tailErr, &ve) {
			return rep, ve
		}
		return rep, &VerifyError{Seq: sc.signedHead.Seq + 1, Err: ErrCorrupt, Detail: sc.tailErr.Error()}
	}
	if anchor.Seq > 0 {
		if len(sc.gaps) == 0 {
			return rep, VerifyAnchored(sc.entries, ChainHead{}, anchor)
		}
		return rep, anchorAcrossGaps(sc, anchor)
	}
	return rep, nil
}

// anchorAcrossGaps checks anchor against a log with gaps, whose chain and
// signatures scanNodeLog has verified: the entry at anchor.Seq must be in
// the file with anchor.Hash, or be the end of a gap.
func anchorAcrossGaps(sc *nodeScan, anchor ChainHead) error {
	if anchor.Seq > sc.signedHead.Seq {
		return verifyErr(sc.signedHead.Seq+1, ErrTruncated, "chain ends at seq %d, the anchored head is seq %d", sc.signedHead.Seq, anchor.Seq)
	}
	for _, g := range sc.gaps {
		if g.To.Seq == anchor.Seq && bytes.Equal(g.To.Hash, anchor.Hash) {
			return nil
		}
		if g.From.Seq < anchor.Seq && anchor.Seq <= g.To.Seq {
			return verifyErr(anchor.Seq, ErrTruncated, "seq %d was lost: the log has an accepted gap after seq %d up to seq %d", anchor.Seq, g.From.Seq, g.To.Seq)
		}
	}
	for _, e := range sc.entries {
		if e.Seq == anchor.Seq {
			if !bytes.Equal(e.Hash, anchor.Hash) {
				return verifyErr(e.Seq, ErrHead, "seq %d hashes to %X, the anchored head says %X", e.Seq, e.Hash, anchor.Hash)
			}
			return nil
		}
	}
	return verifyErr(anchor.Seq, ErrHead, "the anchored head %s is not in the chain", anchor)
}

// logSegment is a run of consecutive sequence numbers in a node log: the
// entries at offsets[idx:] (up to the next segment's idx) have seqs
// first, first+1, ... A gap starts a new segment.
type logSegment struct {
	first uint64
	idx   int
}

const sha256Size = 32

// The high-water mark file, PATH.hwm: a header, then two slots, each
//
//	seq (8 bytes, big-endian) | hash (32 bytes; zeros for seq 0) | CRC-32C of both (4 bytes)
//
// written alternately, so a torn write leaves the other slot readable. The
// larger valid slot is the mark.
const (
	hwmMagic    = "dstt-audit-hwm-v1\n"
	hwmSlotSize = 8 + sha256Size + 4
	hwmSuffix   = ".hwm"
)

// hwmFile is the open high-water mark file.
type hwmFile struct {
	f    *os.File
	path string
	next int // slot written next
}

func encodeHWMSlot(h ChainHead) []byte {
	b := binary.BigEndian.AppendUint64(nil, h.Seq)
	var hash [sha256Size]byte
	copy(hash[:], h.Hash)
	b = append(b, hash[:]...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
}

func decodeHWMSlot(b []byte) (ChainHead, bool) {
	if len(b) != hwmSlotSize || crc32.Checksum(b[:hwmSlotSize-4], crcTable) != binary.BigEndian.Uint32(b[hwmSlotSize-4:]) {
		return ChainHead{}, false
	}
	h := ChainHead{Seq: binary.BigEndian.Uint64(b)}
	if h.Seq > 0 {
		h.Hash = append([]byte(nil), b[8:8+sha256Size]...)
	}
	return h, true
}

// readHWM reads the mark at path: found is false when there is no file.
// A file with neither slot valid is an error wrapping ErrCorrupt.
func readHWM(path string) (mark ChainHead, found bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return ChainHead{}, false, nil
	}
	if err != nil {
		return ChainHead{}, false, err
	}
	if len(b) != len(hwmMagic)+2*hwmSlotSize || string(b[:len(hwmMagic)]) != hwmMagic {
		return ChainHead{}, true, fmt.Errorf("%w: high-water mark %s: bad size or header", ErrCorrupt, path)
	}
	ok := false
	for i := range 2 {
		off := len(hwmMagic) + i*hwmSlotSize
		if h, valid := decodeHWMSlot(b[off : off+hwmSlotSize]); valid {
			if !ok || h.Seq > mark.Seq {
				mark = h
			}
			ok = true
		}
	}
	if !ok {
		return ChainHead{}, true, fmt.Errorf("%w: high-water mark %s: no valid slot", ErrCorrupt, path)
	}
	return mark, true, nil
}

// createHWM writes a new mark file holding mark (through a temporary file
// and a rename, so it never exists half-written) and opens it.
func createHWM(path string, mark ChainHead) (*hwmFile, error) {
	slot := encodeHWMSlot(mark)
	b := append(append([]byte(hwmMagic), slot...), slot...)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return nil, fmt.Errorf("audit: write high-water mark: %w", err)
	}
	f, err := os.OpenFile(tmp, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: fsync high-water mark: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: install high-water mark: %w", err)
	}
	if err := syncFileAndDir(f, path); err != nil {
		f.Close()
		return nil, err
	}
	return &hwmFile{f: f, path: path}, nil
}

// save records mark durably: one slot written and fsynced.
func (h *hwmFile) save(mark ChainHead) error {
	off := int64(len(hwmMagic) + h.next*hwmSlotSize)
	if _, err := h.f.WriteAt(encodeHWMSlot(mark), off); err != nil {
		return fmt.Errorf("audit: write high-water mark: %w", err)
	}
	if err := h.f.Sync(); err != nil {
		return fmt.Errorf("audit: fsync high-water mark: %w", err)
	}
	h.next ^= 1
	return nil
}

func (h *hwmFile) close() error { return h.f.Close() }

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
