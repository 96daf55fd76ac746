package engine

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/dstt/dstt/storage"
)

// DecodeSnapshot reverses Encode. It allocates no more than the input's
// size, whatever the counts in it say.
func DecodeSnapshot(b []byte) (*Snapshot, error) {
	r, err := newSnapReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, err
	}
	h := r.entriesHeader()
	s := &Snapshot{ChainID: h.ChainID, Height: h.Height, AppHash: h.AppHash, PrevStateHash: h.PrevStateHash}
	for i := uint64(0); i < h.Entries && r.err == nil; i++ {
		e := r.entry()
		if r.err == nil {
			s.Entries = append(s.Entries, e)
		}
	}
	r.end()
	if r.err != nil {
		return nil, r.error()
	}
	return s, nil
}

// maxSnapshotHeader bounds the bytes ReadSnapshotHeader reads: the magic,
// a chain id (CometBFT's are at most 50 bytes), two hashes and varints.
const maxSnapshotHeader = 4 << 10

// ReadSnapshotHeader reads the header of the encoded snapshot in r (a
// snapshot file), reading at most 4 KiB, not the entries: what `dstt
// snapshot list` shows. The entries are not checked.
func ReadSnapshotHeader(r io.Reader) (SnapshotHeader, error) {
	b := make([]byte, maxSnapshotHeader)
	n, err := io.ReadFull(r, b)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return SnapshotHeader{}, err
	}
	sr, err := newSnapReader(bytes.NewReader(b[:n]), int64(n))
	if err != nil {
		return SnapshotHeader{}, err
	}
	h := sr.header()
	if sr.err != nil {
		return SnapshotHeader{}, fmt.Errorf("%w: malformed header: %v", ErrSnapshot, sr.err)
	}
	return h, nil
}

// snapReadBuffer is the read buffer of a snapshot read from a file.
const snapReadBuffer = 1 << 20

// snapReader decodes an encoded snapshot of size bytes from a reader, a
// field at a time: the one decoding of the format, for DecodeSnapshot,
// ReadSnapshotHeader and the streamed verify and restore. A length is
// checked against the bytes left before anything is allocated for it, so
// a reader allocates no more than the input's size. A read error of the
// underlying reader (not a short input) is kept in ioErr.
type snapReader struct {
	r    *bufio.Reader
	left int64
	err  error
	// ioErr: the underlying reader failed (err is set too).
	ioErr error
}

var errTruncated = errors.New("truncated")

// newSnapReader reads and checks the magic of the snapshot in r.
func newSnapReader(r io.Reader, size int64) (*snapReader, error) {
	sr := &snapReader{r: bufio.NewReaderSize(r, min(snapReadBuffer, max(int(size), 16))), left: size}
	magic := sr.bytes(uint64(len(snapshotMagic)))
	if sr.ioErr != nil {
		return nil, sr.ioErr
	}
	if string(magic) != snapshotMagic {
		return nil, fmt.Errorf("%w: not a dstt snapshot (format v1)", ErrSnapshot)
	}
	return sr, nil
}

// error is the reader's error: an I/O error as it is, a malformed input as
// ErrSnapshot.
func (r *snapReader) error() error {
	if r.ioErr != nil {
		return r.ioErr
	}
	return fmt.Errorf("%w: malformed: %v", ErrSnapshot, r.err)
}

// header reads the fields before the entries.
func (r *snapReader) header() SnapshotHeader {
	return SnapshotHeader{ChainID: string(r.field()), Height: r.uvarint(), AppHash: r.field(), PrevStateHash: r.field(), Entries: r.uvarint()}
}

// entriesHeader reads the header of a snapshot whose entries are read
// next: an entry takes at least one byte, so a count over the bytes left
// is refused before any is read.
func (r *snapReader) entriesHeader() SnapshotHeader {
	h := r.header()
	if r.err == nil && h.Entries > uint64(r.left) {
		r.err = errors.New("entry count over the input size")
	}
	return h
}

// entry reads one entry: key, height, index, value.
func (r *snapReader) entry() storage.Entry {
	e := storage.Entry{Key: r.field()}
	e.Version.Height = r.uvarint()
	idx := r.uvarint()
	if idx > 1<<32-1 && r.err == nil {
		r.err = errors.New("tx index out of range")
	}
	e.Version.Index = uint32(idx)
	e.Value = r.field()
	return e
}

// end checks that nothing follows the entries.
func (r *snapReader) end() {
	if r.err == nil && r.left != 0 {
		r.err = errors.New("trailing bytes")
	}
}

func (r *snapReader) uvarint() uint64 {
	var x uint64
	for i := 0; r.err == nil; i++ {
		if r.left == 0 || i == 10 {
			r.err = errTruncated
			break
		}
		c, err := r.r.ReadByte()
		if err != nil {
			r.fail(err)
			break
		}
		r.left--
		if c < 0x80 {
			if i == 9 && c > 1 {
				r.err = errTruncated // overflows 64 bits
				break
			}
			return x | uint64(c)<<(7*i)
		}
		x |= uint64(c&0x7f) << (7 * i)
	}
	return 0
}

func (r *snapReader) field() []byte { return r.bytes(r.uvarint()) }

// bytes reads the next n bytes.
func (r *snapReader) bytes(n uint64) []byte {
	if r.err == nil && n > uint64(r.left) {
		r.err = errTruncated
	}
	if r.err != nil {
		return nil
	}
	v := make([]byte, n)
	if _, err := io.ReadFull(r.r, v); err != nil {
		r.fail(err)
		return nil
	}
	r.left -= int64(n)
	return v
}

// fail records a read error: the input ending before its size is a
// truncated snapshot, anything else the reader's failure.
func (r *snapReader) fail(err error) {
	r.err = errTruncated
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		r.ioErr = err
	}
}
