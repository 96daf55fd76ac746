package engine

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/storage"
)

// SnapshotInfo describes a snapshot file WriteSnapshot wrote.
type SnapshotInfo struct {
	SnapshotHeader
	AuditHead audit.ChainHead
	// Bytes and SHA256: the size and hash of the bytes written.
	Bytes  int64
	SHA256 []byte
}

// snapshotWriteBuffer is the buffer between the store and w.
const snapshotWriteBuffer = 1 << 20

// SnapshotHeight is the last snapshot height at or below height (0: the
// last one) in store.
func SnapshotHeight(store storage.Store, height uint64) (uint64, error) {
	h, _, ok, err := readDigest(store, height)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, fmt.Errorf("%w: no snapshot height at or below %d (is snapshot_interval set?)", ErrSnapshot, height)
	}
	return h, nil
}

// WriteSnapshot writes the snapshot at the last snapshot height at or
// below height (0: the last one) of store to w: the bytes
// ExportSnapshot(store, height).Encode() gives, but holding one entry at a
// time. One pass over the state at that height counts the entries for the
// header, a second writes them; the store must hold the height through
// both (retention keeps the last snapshot height readable; a count that
// changes between the passes is an error). With trusted set (the app hash
// the validators signed for the snapshot height) the entries are checked
// as they are written, as VerifySnapshot checks a snapshot; a snapshot that
// fails is ErrSnapshot, and what was written to w is to be discarded.
func WriteSnapshot(store storage.Store, height uint64, w io.Writer, trusted []byte) (SnapshotInfo, error) {
	h, err := SnapshotHeight(store, height)
	if err != nil {
		return SnapshotInfo{}, err
	}
	info, err := snapshotHead(store, h)
	if err != nil {
		return SnapshotInfo{}, err
	}
	err = store.Scan(nil, h, func(storage.Entry) bool {
		info.Entries++
		return true
	})
	if err != nil {
		return SnapshotInfo{}, err
	}
	var check *snapshotCheck
	if trusted != nil {
		check = newSnapshotCheck(h)
	}
	sum := sha256.New()
	out := &countingWriter{w: io.MultiWriter(w, sum)}
	bw := bufio.NewWriterSize(out, snapshotWriteBuffer)
	buf := appendSnapshotHeader([]byte(snapshotMagic), info.SnapshotHeader)
	_, werr := bw.Write(buf)
	var n uint64
	err = store.Scan(nil, h, func(ent storage.Entry) bool {
		n++
		if check != nil && werr == nil {
			werr = check.add(ent)
		}
		if werr == nil {
			buf = appendSnapshotEntry(buf[:0], ent)
			_, werr = bw.Write(buf)
		}
		return werr == nil
	})
	switch {
	case err != nil:
	case werr != nil:
		err = werr
	case n != info.Entries:
		err = fmt.Errorf("abci: snapshot %d: %d entries counted, %d written (the store changed meanwhile)", h, info.Entries, n)
	case check != nil:
		err = check.finish(info.PrevStateHash, info.AppHash, trusted)
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return SnapshotInfo{}, err
	}
	info.Bytes, info.SHA256 = out.n, sum.Sum(nil)
	return info, nil
}

// snapshotHead reads the header of the snapshot at height h but its entry
// count: the app hash, chain id and audit head from the head and chain
// records at h, and the state hash before h.
func snapshotHead(store storage.Store, h uint64) (SnapshotInfo, error) {
	var readErr error
	find := func(key []byte) (storage.Entry, bool) {
		ent, ok, err := store.Get(key, h)
		if err != nil && readErr == nil {
			readErr = err
		}
		return ent, ok && !ent.Deleted
	}
	appHash, chainID, err := snapshotHeader(find)
	if readErr != nil {
		return SnapshotInfo{}, readErr
	}
	if err != nil {
		return SnapshotInfo{}, err
	}
	head, _ := find(headKey)
	_, auditHead, _ := decodeHeadRecord(head.Value)
	prev, err := store.History(headKey, storage.Version{Height: h}, 1)
	if err != nil || len(prev) == 0 {
		return SnapshotInfo{}, fmt.Errorf("abci: snapshot %d: the state hash before it: %v", h, err)
	}
	prevState, _, err := decodeHeadRecord(prev[0].Value)
	if err != nil {
		return SnapshotInfo{}, err
	}
	return SnapshotInfo{
		SnapshotHeader: SnapshotHeader{ChainID: chainID, Height: h, AppHash: appHash, PrevStateHash: prevState},
		AuditHead:      auditHead,
	}, nil
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
