package engine

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"

	"github.com/dstt/dstt/storage"
)

// SnapshotSource is an encoded snapshot of Size bytes that can be read
// more than once: Open starts a new read from its first byte. The streamed
// verify and restore read it in passes and hold one entry, or one restore
// batch, at a time.
type SnapshotSource struct {
	Open func() (io.Reader, error)
	Size int64
}

// SnapshotAt is the snapshot of size bytes at offset off of r (a file).
func SnapshotAt(r io.ReaderAt, off, size int64) SnapshotSource {
	return SnapshotSource{Size: size, Open: func() (io.Reader, error) { return io.NewSectionReader(r, off, size), nil }}
}

// restoreBatchBytes bounds one batch a streamed restore hands the store,
// counted as its keys and values plus restoreEntryOverhead bytes an entry:
// the memory a restore holds, whatever the snapshot's size (a few times
// it with the store's copies). It stays well below half of the Pebble
// store's 32 MiB memtable (storage.DefaultPebbleOptions), so that each
// batch goes into the memtable and not down Pebble's large-batch path
// (which keeps the batch in Go memory until it is flushed, and flushes
// the memtable with it). A variable for the tests only.
var restoreBatchBytes = 8 << 20

// restoreEntryOverhead is about what an entry costs in a Pebble batch and
// memtable beyond its key and value (the encoded version and value flag,
// the record header, the skiplist node).
const restoreEntryOverhead = 64

// readSnapshot reads src once, decoding the header and calling each with
// every entry in order, and returns the header and the SHA-256 of the
// bytes read. A malformed snapshot is ErrSnapshot.
func readSnapshot(src SnapshotSource, each func(SnapshotHeader, storage.Entry) error) (SnapshotHeader, []byte, error) {
	rd, err := src.Open()
	if err != nil {
		return SnapshotHeader{}, nil, err
	}
	sum := sha256.New()
	r, err := newSnapReader(io.TeeReader(io.LimitReader(rd, src.Size), sum), src.Size)
	if err != nil {
		return SnapshotHeader{}, nil, err
	}
	h := r.entriesHeader()
	for i := uint64(0); i < h.Entries && r.err == nil; i++ {
		ent := r.entry()
		if r.err != nil {
			break
		}
		if err := each(h, ent); err != nil {
			return SnapshotHeader{}, nil, err
		}
	}
	r.end()
	if r.err != nil {
		return SnapshotHeader{}, nil, r.error()
	}
	return h, sum.Sum(nil), nil
}

// VerifySnapshotFrom is VerifySnapshot of the encoded snapshot src, read
// once, an entry at a time: the memory it holds does not grow with the
// snapshot. The info it returns has the header, the audit head and the
// size and SHA-256 of the bytes read.
func VerifySnapshotFrom(src SnapshotSource, trusted []byte) (SnapshotInfo, error) {
	var check *snapshotCheck
	h, sum, err := readSnapshot(src, func(h SnapshotHeader, ent storage.Entry) error {
		if check == nil {
			check = newSnapshotCheck(h.Height)
		}
		return check.add(ent)
	})
	if err != nil {
		return SnapshotInfo{}, err
	}
	if check == nil {
		check = newSnapshotCheck(h.Height)
	}
	if err := check.finish(h.PrevStateHash, h.AppHash, trusted); err != nil {
		return SnapshotInfo{}, err
	}
	head, _ := check.find(headKey)
	_, auditHead, _ := decodeHeadRecord(head.Value)
	return SnapshotInfo{SnapshotHeader: h, AuditHead: auditHead, Bytes: src.Size, SHA256: sum}, nil
}

// RestoreFrom rebuilds the engine's store from the encoded snapshot src
// and reloads the engine from it, holding one restore batch in memory at
// a time. It reads src twice: first it verifies the whole snapshot against
// trusted (VerifySnapshotFrom) and writes nothing if it fails; then it
// restores it (RestoreVerified).
func (e *Engine) RestoreFrom(src SnapshotSource, trusted []byte) (SnapshotInfo, error) {
	if e.staged != nil {
		return SnapshotInfo{}, ErrStaged
	}
	info, err := VerifySnapshotFrom(src, trusted)
	if err != nil {
		return SnapshotInfo{}, err
	}
	return info, e.RestoreVerified(src, info)
}

// RestoreVerified restores src, which VerifySnapshotFrom checked and
// described with info: it streams the entries into the store in batches
// (storage.Store.RestoreFrom) and, before the store records the height,
// checks that the bytes it restored are the bytes verified (info.SHA256):
// a source that changed in between leaves the store without a height. A
// store left so, or by a crash part way, is cleared by the next restore.
func (e *Engine) RestoreVerified(src SnapshotSource, info SnapshotInfo) error {
	if e.staged != nil {
		return ErrStaged
	}
	rd, err := src.Open()
	if err != nil {
		return err
	}
	sum := sha256.New()
	r, err := newSnapReader(io.TeeReader(io.LimitReader(rd, src.Size), sum), src.Size)
	if err != nil {
		return err
	}
	h := r.entriesHeader()
	var n uint64
	var batch []storage.Entry
	next := func() ([]storage.Entry, error) {
		batch = batch[:0]
		for size := 0; n < h.Entries && size < restoreBatchBytes && r.err == nil; n++ {
			ent := r.entry()
			batch = append(batch, ent)
			size += len(ent.Key) + len(ent.Value) + restoreEntryOverhead
		}
		if len(batch) == 0 {
			r.end()
		}
		switch {
		case r.err != nil:
			return nil, r.error()
		case len(batch) == 0 && !bytes.Equal(sum.Sum(nil), info.SHA256):
			return nil, fmt.Errorf("%w: the snapshot changed between its check and its restore", ErrSnapshot)
		}
		return batch, nil
	}
	if err := e.store.RestoreFrom(h.Height, h.AppHash, next); err != nil {
		return fmt.Errorf("abci: restore snapshot %d: %w", info.Height, err)
	}
	return e.reload()
}

// reload rebuilds the engine from its store (after a restore).
func (e *Engine) reload() error {
	fresh, err := NewEngine(e.store, e.verifier)
	if err != nil {
		return err
	}
	*e = *fresh
	return nil
}
