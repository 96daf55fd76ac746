package abci

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/dstt/dstt/abci/engine"
)

// spool is a snapshot being received by state sync: its chunks go into a
// file, chunk i at offset i*snapshotChunk (a chunk is at most that long;
// the gaps of short chunks take no disk in a sparse file), and the
// snapshot is read back from the file in chunk order.
type spool struct {
	offer   *abcitypes.Snapshot
	trusted []byte
	file    *os.File
	// lens: each chunk's length, -1 until it arrives.
	lens    []int64
	senders []string
	// hasher is the SHA-256 of chunks[:hashed], fed as the chunks come in
	// order (CometBFT applies them by index), so that the last chunk does
	// not wait for the whole file's hash; nil once a hashed chunk was sent
	// again (then the whole file is hashed at the end).
	hasher hash.Hash
	hashed int
}

// spoolPattern names the spool files in the snapshot directory.
const spoolPattern = "restore-*.part"

// openSpool creates the spool file of an offered snapshot in dir,
// removing the spool files an earlier restore left there (a node stopped
// part way). An app without a snapshot directory spools into an unnamed
// file (created in the system's temporary directory and unlinked at once).
func openSpool(dir string, offer *abcitypes.Snapshot, trusted []byte) (*spool, error) {
	var f *os.File
	var err error
	if dir == "" {
		if f, err = os.CreateTemp("", "dstt-restore-*.part"); err == nil {
			err = os.Remove(f.Name())
		}
	} else {
		old, _ := filepath.Glob(filepath.Join(dir, spoolPattern))
		for _, name := range old {
			_ = os.Remove(name)
		}
		f, err = os.OpenFile(filepath.Join(dir, fmt.Sprintf("restore-%d.part", offer.Height)), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	}
	if err != nil {
		return nil, err
	}
	lens := make([]int64, offer.Chunks)
	for i := range lens {
		lens[i] = -1
	}
	return &spool{offer: offer, trusted: bytes.Clone(trusted), file: f, lens: lens, hasher: sha256.New()}, nil
}

// close removes the spool file.
func (sp *spool) close() {
	_ = sp.file.Close()
	_ = os.Remove(sp.file.Name())
}

// add writes chunk i into the file and feeds the hash what is now in order.
func (sp *spool) add(i int, chunk []byte) error {
	if i < sp.hashed {
		sp.hasher = nil
	}
	if _, err := sp.file.WriteAt(chunk, int64(i)*snapshotChunk); err != nil {
		return err
	}
	sp.lens[i] = int64(len(chunk))
	for sp.hasher != nil && sp.hashed < len(sp.lens) && sp.lens[sp.hashed] >= 0 {
		if sp.hashed == i {
			sp.hasher.Write(chunk)
		} else if _, err := io.Copy(sp.hasher, sp.chunk(sp.hashed)); err != nil {
			return err
		}
		sp.hashed++
	}
	return nil
}

func (sp *spool) chunk(i int) io.Reader {
	return io.NewSectionReader(sp.file, int64(i)*snapshotChunk, sp.lens[i])
}

func (sp *spool) complete() bool { return !slices.Contains(sp.lens, -1) }

// source is the snapshot file the chunks make, read from the spool file.
func (sp *spool) source() engine.SnapshotSource {
	var size int64
	for _, n := range sp.lens {
		size += n
	}
	return engine.SnapshotSource{Size: size, Open: func() (io.Reader, error) {
		rs := make([]io.Reader, len(sp.lens))
		for i := range rs {
			rs[i] = sp.chunk(i)
		}
		return io.MultiReader(rs...), nil
	}}
}

// sum is the SHA-256 of the file the chunks make.
func (sp *spool) sum() ([]byte, error) {
	if sp.hasher != nil {
		return sp.hasher.Sum(nil), nil
	}
	h := sha256.New()
	r, _ := sp.source().Open()
	if _, err := io.Copy(h, r); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// OfferSnapshot accepts a snapshot to restore when the node has no state.
func (a *App) OfferSnapshot(_ context.Context, req *abcitypes.RequestOfferSnapshot) (*abcitypes.ResponseOfferSnapshot, error) {
	s := req.Snapshot
	switch {
	case a.engine.Initialised() || a.engine.Height() != 0:
		return &abcitypes.ResponseOfferSnapshot{Result: abcitypes.ResponseOfferSnapshot_ABORT}, nil
	case s == nil || s.Format != snapshotFormat:
		return &abcitypes.ResponseOfferSnapshot{Result: abcitypes.ResponseOfferSnapshot_REJECT_FORMAT}, nil
	case s.Chunks == 0 || s.Chunks > maxSnapshotChunks || len(s.Hash) != sha256.Size || len(req.AppHash) == 0:
		return &abcitypes.ResponseOfferSnapshot{Result: abcitypes.ResponseOfferSnapshot_REJECT}, nil
	}
	if a.snaps == nil {
		a.snaps = &snapshots{}
	}
	if a.snaps.restore != nil {
		a.snaps.restore.close()
		a.snaps.restore = nil
	}
	sp, err := openSpool(a.snaps.dir, s, req.AppHash)
	if err != nil {
		a.logger.Error("state sync: cannot create the file to receive the snapshot in", "err", err)
		return &abcitypes.ResponseOfferSnapshot{Result: abcitypes.ResponseOfferSnapshot_ABORT}, nil
	}
	a.snaps.restore = sp
	a.logger.Info("state sync: restoring a snapshot", "height", s.Height, "chunks", s.Chunks, "file", sp.file.Name())
	return &abcitypes.ResponseOfferSnapshot{Result: abcitypes.ResponseOfferSnapshot_ACCEPT}, nil
}

// ApplySnapshotChunk spools the chunks; with the last one it verifies the
// snapshot and restores the engine from it.
func (a *App) ApplySnapshotChunk(_ context.Context, req *abcitypes.RequestApplySnapshotChunk) (*abcitypes.ResponseApplySnapshotChunk, error) {
	var sp *spool
	if a.snaps != nil {
		sp = a.snaps.restore
	}
	if sp == nil || req.Index >= uint32(len(sp.lens)) {
		return &abcitypes.ResponseApplySnapshotChunk{Result: abcitypes.ResponseApplySnapshotChunk_ABORT}, nil
	}
	if len(req.Chunk) > snapshotChunk {
		return &abcitypes.ResponseApplySnapshotChunk{Result: abcitypes.ResponseApplySnapshotChunk_REJECT_SNAPSHOT, RejectSenders: []string{req.Sender}}, nil
	}
	if !slices.Contains(sp.senders, req.Sender) { // one entry a peer, however many chunks it resends
		sp.senders = append(sp.senders, req.Sender)
	}
	if err := sp.add(int(req.Index), req.Chunk); err != nil {
		a.logger.Error("state sync: writing a snapshot chunk failed", "file", sp.file.Name(), "err", err)
		sp.close()
		a.snaps.restore = nil
		// The node's own disk failed: no sender is to blame.
		return &abcitypes.ResponseApplySnapshotChunk{Result: abcitypes.ResponseApplySnapshotChunk_REJECT_SNAPSHOT}, nil
	}
	if !sp.complete() {
		return &abcitypes.ResponseApplySnapshotChunk{Result: abcitypes.ResponseApplySnapshotChunk_ACCEPT}, nil
	}
	err := a.restore(sp)
	sp.close()
	a.snaps.restore = nil
	if err != nil {
		a.logger.Error("state sync: snapshot refused", "err", err)
		if !errors.Is(err, engine.ErrSnapshot) {
			// The node's own disk or store failed: no sender is to blame.
			return &abcitypes.ResponseApplySnapshotChunk{Result: abcitypes.ResponseApplySnapshotChunk_REJECT_SNAPSHOT}, nil
		}
		return &abcitypes.ResponseApplySnapshotChunk{Result: abcitypes.ResponseApplySnapshotChunk_REJECT_SNAPSHOT, RejectSenders: slices.Sorted(slices.Values(sp.senders))}, nil
	}
	a.logger.Info("state sync: snapshot restored", "height", a.engine.Height(), "app_hash", fmt.Sprintf("%X", a.engine.AppHash()))
	return &abcitypes.ResponseApplySnapshotChunk{Result: abcitypes.ResponseApplySnapshotChunk_ACCEPT}, nil
}

// restore checks the snapshot file sp holds and rebuilds the engine from
// it: its hash, its height, then the snapshot against the trusted app hash
// (before anything is written), then the restore.
func (a *App) restore(sp *spool) error {
	sum, err := sp.sum()
	if err != nil {
		return err
	}
	if !bytes.Equal(sum, sp.offer.Hash) {
		return fmt.Errorf("%w: the chunks do not hash to the offered snapshot hash", engine.ErrSnapshot)
	}
	src := sp.source()
	r, _ := src.Open()
	h, err := engine.ReadSnapshotHeader(r)
	if err != nil {
		return err
	}
	if h.Height != sp.offer.Height {
		return fmt.Errorf("%w: offered for height %d, holds height %d", engine.ErrSnapshot, sp.offer.Height, h.Height)
	}
	_, err = a.engine.RestoreFrom(src, sp.trusted)
	return err
}
