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
	s := &nodeScanner{
		sc:  &nodeScan{signedEnd: int64(len(nodeLogMagic)), segs: []logSegment{{first: 1}}},
		v:   NewVerifier(ChainHead{}),
		br:  br,
		off: int64(len(nodeLogMagic)), size: size,
		pub: pub, keepEntries: keepEntries,
	}
	for s.off != size {
		typ, payload, recOff, err := s.next()
		if err == nil {
			err = s.add(typ, payload, recOff)
		}
		if err != nil {
			return s.fail(err)
		}
	}
	s.sc.head = s.v.Head()
	if len(s.pendingOffsets) > 0 {
		return s.fail(&tornError{&VerifyError{Seq: s.sc.signedHead.Seq + 1, Err: ErrUnsigned,
			Detail: fmt.Sprintf("seqs %d..%d at the end of the file have no signature (a crash mid-write, or tampering)", s.sc.signedHead.Seq+1, s.v.Head().Seq)}})
	}
	return s.sc, nil
}

// nodeScanner is scanNodeLog's state as it reads the records one by one.
type nodeScanner struct {
	sc          *nodeScan
	v           *Verifier // the chain since the start or the last gap
	br          *bufio.Reader
	off, size   int64 // offset of the next record; the file's size
	rec         []byte
	pub         []byte
	keepEntries bool
	// Entries since the last signature (pending only for keepEntries).
	pending        []Entry
	pendingOffsets []int64
}

// fail ends the scan: everything after the last good signature is the
// tail, and err says what is wrong with it.
func (s *nodeScanner) fail(err error) (*nodeScan, error) {
	s.sc.tailErr = err
	s.sc.tailBytes = s.size - s.sc.signedEnd
	s.sc.head = s.sc.signedHead
	return s.sc, nil
}

// next reads the record at s.off and checks its framing and CRC. payload
// is valid until the next call; recOff is the record's offset.
func (s *nodeScanner) next() (typ byte, payload []byte, recOff int64, err error) {
	off := s.off
	typ, err = s.br.ReadByte()
	if err != nil {
		return 0, nil, off, fmt.Errorf("%w: %w: short record at offset %d", errTorn, ErrCorrupt, off)
	}
	n, err := binary.ReadUvarint(s.br)
	if err != nil {
		return 0, nil, off, fmt.Errorf("%w: %w: record header cut short at offset %d", errTorn, ErrCorrupt, off)
	}
	if typ == 0 && n == 0 && zeroTail(s.br) {
		return 0, nil, off, fmt.Errorf("%w: %w: zero-filled tail from offset %d", errTorn, ErrCorrupt, off)
	}
	if n > MaxNodeEntryBytes+1024 {
		return 0, nil, off, fmt.Errorf("%w: bad record length %d at offset %d", ErrCorrupt, n, off)
	}
	s.rec = binary.AppendUvarint(append(s.rec[:0], typ), n)
	hdr := len(s.rec)
	s.rec = append(s.rec, make([]byte, n+4)...)
	if _, err := io.ReadFull(s.br, s.rec[hdr:]); err != nil {
		return 0, nil, off, fmt.Errorf("%w: %w: record at offset %d cut short", errTorn, ErrCorrupt, off)
	}
	body := s.rec[:len(s.rec)-4]
	if crc32.Checksum(body, crcTable) != binary.BigEndian.Uint32(s.rec[len(s.rec)-4:]) {
		return 0, nil, off, &VerifyError{Seq: s.v.Head().Seq + 1, Err: ErrCorrupt, Detail: fmt.Sprintf("CRC mismatch in the record at offset %d", off)}
	}
	s.off += int64(len(s.rec))
	return typ, body[hdr:], off, nil
}

// add takes in the record of type typ at offset recOff; an error is what is
// wrong with the tail from the last good signature on.
func (s *nodeScanner) add(typ byte, payload []byte, recOff int64) error {
	switch typ {
	case recEntry:
		return s.addEntry(payload, recOff)
	case recSig:
		return s.addSig(payload, recOff)
	case recGap:
		return s.addGap(payload, recOff)
	}
	return fmt.Errorf("%w: unknown record type %q at offset %d", ErrCorrupt, typ, recOff)
}

// addEntry chains an entry; it stays pending until a signature covers it.
func (s *nodeScanner) addEntry(payload []byte, recOff int64) error {
	e, err := Decode(payload)
	if err != nil {
		return &VerifyError{Seq: s.v.Head().Seq + 1, Err: ErrCorrupt, Detail: fmt.Sprintf("record at offset %d: %v", recOff, err)}
	}
	if err := s.v.Add(&e); err != nil {
		return err
	}
	if e.Seq > s.sc.maxSeen.Seq {
		s.sc.maxSeen = ChainHead{Seq: e.Seq, Hash: e.Hash}
	}
	s.pendingOffsets = append(s.pendingOffsets, recOff)
	if s.keepEntries {
		s.pending = append(s.pending, e)
	}
	return nil
}

// addSig checks a signature over the chain so far and takes in the pending
// entries it covers.
func (s *nodeScanner) addSig(payload []byte, recOff int64) error {
	sc := s.sc
	sig, err := decodeNodeSig(payload)
	head := s.v.Head()
	if err != nil {
		return &VerifyError{Seq: sc.signedHead.Seq + 1, Err: ErrCorrupt, Detail: fmt.Sprintf("signature record at offset %d: %v", recOff, err)}
	}
	if sig.Seq != head.Seq || !bytes.Equal(sig.Hash, head.Hash) {
		return &VerifyError{Seq: sc.signedHead.Seq + 1, Err: ErrSignature,
			Detail: fmt.Sprintf("signature at offset %d covers %d:%X but the chain is at %s", recOff, sig.Seq, sig.Hash, head)}
	}
	if s.pub != nil && (!bytes.Equal(sig.PubKey, s.pub) || !sigverify.Signature(s.pub, NodeSignBytes(sig.Seq, sig.Hash), sig.Sig)) {
		return &VerifyError{Seq: sc.signedHead.Seq + 1, Err: ErrSignature,
			Detail: fmt.Sprintf("signature over seqs %d..%d (record at offset %d) does not verify with key %X", sc.signedHead.Seq+1, sig.Seq, recOff, s.pub)}
	}
	sc.sigs++
	sc.signedHead = head
	sc.signedEnd = s.off
	sc.offsets = append(sc.offsets, s.pendingOffsets...)
	sc.entries = append(sc.entries, s.pending...)
	s.pending, s.pendingOffsets = s.pending[:0], s.pendingOffsets[:0]
	return nil
}

// addGap checks a gap record and resumes the chain after it.
func (s *nodeScanner) addGap(payload []byte, recOff int64) error {
	sc := s.sc
	g, err := decodeNodeGap(payload)
	head := s.v.Head()
	switch {
	case err != nil:
		return &VerifyError{Seq: head.Seq + 1, Err: ErrCorrupt, Detail: fmt.Sprintf("gap record at offset %d: %v", recOff, err)}
	case len(s.pendingOffsets) > 0:
		return &VerifyError{Seq: sc.signedHead.Seq + 1, Err: ErrUnsigned, Detail: fmt.Sprintf("gap record at offset %d follows unsigned entries", recOff)}
	case !g.From.Equal(head) || g.To.Seq < g.From.Seq || g.To.Equal(g.From) || len(g.To.Hash) != sha256Size:
		return &VerifyError{Seq: head.Seq + 1, Err: ErrLink, Detail: fmt.Sprintf("gap record at offset %d runs %s..%s but the chain is at %s", recOff, g.From, g.To, head)}
	case s.pub != nil && (!bytes.Equal(g.PubKey, s.pub) || !sigverify.Signature(s.pub, NodeGapSignBytes(g.From, g.To), g.Sig)):
		return &VerifyError{Seq: head.Seq + 1, Err: ErrSignature, Detail: fmt.Sprintf("gap record at offset %d does not verify with key %X", recOff, s.pub)}
	}
	s.v = NewVerifier(g.To)
	sc.gaps = append(sc.gaps, g.Gap)
	sc.segs = append(sc.segs, logSegment{first: g.To.Seq + 1, idx: len(sc.offsets)})
	sc.signedHead = g.To
	sc.signedEnd = s.off
	if g.To.Seq > sc.maxSeen.Seq {
		sc.maxSeen = g.To
	}
	return nil
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
