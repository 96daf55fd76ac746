package abci

import (
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/dstt/dstt/abci/engine"
)

// Block retention: CometBFT prunes its own blocks below the height Commit
// returns. With a retention rule (types.Params.Retains) that is the engine's
// floor, the lowest height whose state reads still answer; without one it
// is 0 and CometBFT keeps every block.
func (a *App) retainHeight() int64 {
	if !a.reader.Params().Retains() {
		return 0
	}
	floor, err := a.reader.Floor()
	if err != nil {
		a.logger.Error("reading the retention floor failed; blocks are kept", "err", err)
		return 0
	}
	return int64(floor)
}

// State sync. With snapshots enabled (EnableSnapshots), the node writes the
// snapshot of every snapshot height (engine.Snapshot, the chain param
// snapshot_interval) at its Commit into a directory, DIR/HEIGHT.snap (the
// files `dstt snapshot` lists), keeping the newest few, and serves them to
// CometBFT's state sync: format 1, chunks of snapshotChunk bytes, the hash
// SHA-256 of the file. A joining node accepts an offered snapshot (within
// bounds), collects its chunks, and when it has them all checks the file's
// hash, decodes it and verifies it against the app hash CometBFT's light
// client verified for its height (engine.VerifySnapshot) before anything
// is written; a snapshot that fails is rejected, and its senders with it.

const (
	snapshotFormat = 1
	snapshotChunk  = 4 << 20
	// maxSnapshotChunks bounds what an offered snapshot can make a joining
	// node write to its disk before the file's hash and the app hash
	// refuse it: 16,384 chunks of at most snapshotChunk bytes, 64 GiB, in
	// one spool file that is removed when the restore ends, refused or not
	// (memory holds one chunk: the restore streams from the file;
	// CometBFT keeps its own copy of the fetched chunks in its state sync
	// temp_dir until the snapshot is applied, so the disk holds up to
	// twice that for a while). The bound is about disk, not memory: a
	// chain's state must fit on its nodes' disks anyway. Until it is
	// restored a joining node admits only its configured peers
	// (AdmitBeforeState), so an outsider cannot offer it one.
	maxSnapshotChunks = 16384
	// keepSnapshots is how many snapshot files a node keeps.
	keepSnapshots = 2
)

// snapshots is the node's snapshot directory and the restore in progress.
type snapshots struct {
	dir string
	// sums caches each file's SHA-256 (ListSnapshots answers every peer
	// that asks, and a file is tens of MB at 100,000 keys), by path; an
	// entry holds while the file's size and modification time do.
	mu   sync.Mutex
	sums map[string]fileSum
	// restore is the snapshot being applied (statesync.go).
	restore *spool
}

// EnableSnapshots makes the app write a snapshot file into dir at every
// snapshot height and serve them to state sync.
func (a *App) EnableSnapshots(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("abci: snapshot directory: %w", err)
	}
	a.snaps = &snapshots{dir: dir}
	return nil
}

type fileSum struct {
	size int64
	mod  time.Time
	sum  [sha256.Size]byte
}

// sum is the SHA-256 and size of the snapshot file at path, from the cache
// while the file is unchanged.
func (s *snapshots) sum(path string) ([]byte, int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, 0, err
	}
	s.mu.Lock()
	c, ok := s.sums[path]
	s.mu.Unlock()
	if ok && c.size == fi.Size() && c.mod.Equal(fi.ModTime()) {
		return c.sum[:], c.size, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return nil, 0, err
	}
	c = fileSum{size: n, mod: fi.ModTime()}
	h.Sum(c.sum[:0])
	if c.size == fi.Size() {
		s.put(path, c)
	}
	return c.sum[:], c.size, nil
}

func (s *snapshots) put(path string, c fileSum) {
	s.mu.Lock()
	if s.sums == nil {
		s.sums = map[string]fileSum{}
	}
	s.sums[path] = c
	s.mu.Unlock()
}

// remember caches sum, the SHA-256 of the file just written at path.
func (s *snapshots) remember(path string, sum []byte) {
	fi, err := os.Stat(path)
	if err != nil || len(sum) != sha256.Size {
		return
	}
	c := fileSum{size: fi.Size(), mod: fi.ModTime()}
	copy(c.sum[:], sum)
	s.put(path, c)
}

// forget drops a removed file's cached sum.
func (s *snapshots) forget(path string) {
	s.mu.Lock()
	delete(s.sums, path)
	s.mu.Unlock()
}

// snapshotAfterCommit writes the snapshot of the height just committed
// when it is a snapshot height, streamed from the store (memory does not
// grow with the state), and caches the file's SHA-256 for ListSnapshots.
// A failure is logged: the chain goes on.
func (a *App) snapshotAfterCommit() {
	h := a.engine.Height()
	if a.snaps == nil || a.reader.LastSnapshotHeight() != h {
		return
	}
	path := filepath.Join(a.snaps.dir, fmt.Sprintf("%d.snap", h))
	info, err := WriteSnapshotFile(path, func(w io.Writer) (engine.SnapshotInfo, error) { return a.engine.WriteSnapshot(h, w) })
	if err != nil {
		a.logger.Error("writing the snapshot failed", "height", h, "err", err)
		return
	}
	a.snaps.remember(path, info.SHA256)
	a.warnIfUnsyncable(h, info.Bytes)
	files, _ := a.snaps.list()
	for len(files) > keepSnapshots {
		_ = os.Remove(files[0].path)
		a.snaps.forget(files[0].path)
		files = files[1:]
	}
}

// maxSyncableSnapshot is the largest snapshot file a joining node accepts
// by state sync (OfferSnapshot): maxSnapshotChunks chunks.
const maxSyncableSnapshot = int64(maxSnapshotChunks) * snapshotChunk

// warnIfUnsyncable tells the operator when the snapshot just written is too
// large for state sync: joining nodes refuse it and must restore from a
// backup file (`dstt snapshot export`, then import) instead.
func (a *App) warnIfUnsyncable(h uint64, size int64) {
	if size > maxSyncableSnapshot {
		a.logger.Error("snapshot too large for state sync: joining nodes refuse snapshots over the limit; new nodes must restore from a backup file (dstt snapshot export / import)",
			"height", h, "bytes", size, "limit", maxSyncableSnapshot)
	}
}

// WriteSnapshotFile writes the snapshot file at path with write (an
// engine.WriteSnapshot): into path.tmp, synced, then renamed over path, so
// that path is whole or absent.
func WriteSnapshotFile(path string, write func(io.Writer) (engine.SnapshotInfo, error)) (engine.SnapshotInfo, error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return engine.SnapshotInfo{}, err
	}
	info, err := write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return engine.SnapshotInfo{}, err
	}
	return info, nil
}

type snapshotFile struct {
	height uint64
	path   string
}

// list returns the snapshot files, oldest first.
func (s *snapshots) list() ([]snapshotFile, error) { return listSnapshotFiles(s.dir) }

// SnapshotHeights returns the heights of the snapshot files a node with
// snapshots enabled keeps in dir, oldest first.
func SnapshotHeights(dir string) ([]uint64, error) {
	files, err := listSnapshotFiles(dir)
	var hs []uint64
	for _, f := range files {
		hs = append(hs, f.height)
	}
	return hs, err
}

func listSnapshotFiles(dir string) ([]snapshotFile, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.snap"))
	if err != nil {
		return nil, err
	}
	var out []snapshotFile
	for _, n := range names {
		h, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(n), ".snap"), 10, 64)
		if err == nil {
			out = append(out, snapshotFile{height: h, path: n})
		}
	}
	slices.SortFunc(out, func(x, y snapshotFile) int { return cmp.Compare(x.height, y.height) })
	return out, nil
}

// ListSnapshots offers the snapshot files to peers: those at or above the
// retain height Commit gives CometBFT, whose blocks after the snapshot a
// joining node can still fetch. A file below it (snapshots turned off by
// SetSnapshotInterval, or an older file the floor passed) stays on disk
// for `dstt snapshot` but is not offered.
func (a *App) ListSnapshots(context.Context, *abcitypes.RequestListSnapshots) (*abcitypes.ResponseListSnapshots, error) {
	resp := &abcitypes.ResponseListSnapshots{}
	if a.snaps == nil {
		return resp, nil
	}
	files, err := a.snaps.list()
	if err != nil {
		return nil, err
	}
	floor := uint64(a.retainHeight())
	for _, f := range files {
		if f.height < floor {
			continue
		}
		sum, size, err := a.snaps.sum(f.path)
		if err != nil {
			continue // pruned meanwhile
		}
		resp.Snapshots = append(resp.Snapshots, &abcitypes.Snapshot{
			Height: f.height, Format: snapshotFormat, Chunks: uint32((size + snapshotChunk - 1) / snapshotChunk), Hash: sum,
		})
	}
	return resp, nil
}

// LoadSnapshotChunk serves one chunk of a snapshot file, reading only
// that chunk's bytes.
func (a *App) LoadSnapshotChunk(_ context.Context, req *abcitypes.RequestLoadSnapshotChunk) (*abcitypes.ResponseLoadSnapshotChunk, error) {
	if a.snaps == nil || req.Format != snapshotFormat {
		return &abcitypes.ResponseLoadSnapshotChunk{}, nil
	}
	f, err := os.Open(filepath.Join(a.snaps.dir, fmt.Sprintf("%d.snap", req.Height)))
	if err != nil {
		return &abcitypes.ResponseLoadSnapshotChunk{}, nil
	}
	defer f.Close()
	fi, err := f.Stat()
	start := int64(req.Chunk) * snapshotChunk
	if err != nil || start >= fi.Size() {
		return &abcitypes.ResponseLoadSnapshotChunk{}, nil
	}
	b := make([]byte, min(snapshotChunk, fi.Size()-start))
	if _, err := f.ReadAt(b, start); err != nil {
		return &abcitypes.ResponseLoadSnapshotChunk{}, nil
	}
	return &abcitypes.ResponseLoadSnapshotChunk{Chunk: b}, nil
}
