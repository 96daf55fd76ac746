package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dstt/dstt/abci"
	"github.com/dstt/dstt/abci/engine"
	"github.com/dstt/dstt/consensus"
	"github.com/dstt/dstt/storage"
)

// snapshotsDirName holds a home's snapshot files (HEIGHT.snap), under data/.
const snapshotsDirName = "snapshots"

// snapshotJSON describes one snapshot for -o json.
type snapshotJSON struct {
	Height    uint64 `json:"height"`
	AppHash   string `json:"app_hash"`
	AuditHead string `json:"audit_head,omitempty"`
	Entries   int    `json:"entries"`
	Bytes     int    `json:"bytes"`
	File      string `json:"file,omitempty"`
}

func newSnapshotCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Backups: snapshots of a stopped node's state, verified against the validators' signed commits",
		Long: `A snapshot is the state at a snapshot height H (the chain param
snapshot_interval must be set: in genesis, or on a running chain by
dstt gov propose set-snapshot-interval): every key's latest value, the
audit chain and its head. Its app hash is in the header of H+1 that the validators signed.
export writes a backup file: the snapshot, CometBFT's chain at H (the
signed headers of H and H+1, the validator sets of H to H+2, the consensus
params), signed by this node's key. verify and import check every byte of
it against the validators' commits, rooted in the genesis validators (or a
header hash you trust: --trust-height/--trust-hash) or this home's own
block store, before anything is written; import then rebuilds a home that
lost its whole data directory, or only its app state. The node must be
stopped (its stores are opened here), except for list, and for export,
which reads the chain over the running node's CometBFT RPC. A file that
does not check out is refused, nothing written (exit code 7). See
docs/OPERATIONS.md.`,
	}
	cmd.AddCommand(
		&cobra.Command{Use: "create", Short: "Write a snapshot of the last snapshot height into data/snapshots", Args: cobra.NoArgs,
			RunE: func(*cobra.Command, []string) error { return g.snapshotCreate() }},
		&cobra.Command{Use: "list", Short: "List the snapshots in data/snapshots", Args: cobra.NoArgs,
			RunE: func(*cobra.Command, []string) error { return g.snapshotList() }},
		&cobra.Command{Use: "export HEIGHT FILE", Short: "Write a backup of HEIGHT to FILE: its snapshot and CometBFT's chain at HEIGHT, signed by this node", Args: cobra.ExactArgs(2),
			RunE: func(_ *cobra.Command, args []string) error { return g.snapshotExport(args[0], args[1]) }},
		restoreCmd(g, "verify FILE", "Check a backup against the validators' signed commits, writing nothing", false),
		restoreCmd(g, "import FILE", "Verify a backup, then rebuild this home's app state (and, in a home that lost its data directory, CometBFT's state) from it", true),
	)
	return cmd
}

func snapshotsDir(h *consensus.Home) string { return filepath.Join(h.DataDir(), snapshotsDirName) }

func (g *globals) snapshotCreate() error {
	h, err := consensus.OpenHome(g.home)
	if err != nil {
		return err
	}
	// The last snapshot height the validators have signed: block L's
	// header signs the app hash of L-1.
	last, _, err := consensus.CommittedAppHash(h)
	if err != nil {
		return err
	}
	if last < 2 {
		return fmt.Errorf("%w: the chain has no signed snapshot height yet", engine.ErrSnapshot)
	}
	store, err := storage.NewPebbleStore(h.AppDataDir(), storage.DefaultPebbleOptions())
	if err != nil {
		return fmt.Errorf("%w (is the node running? stop it first)", err)
	}
	info, path, err := writeSignedSnapshot(h, store, uint64(last-1))
	if err = errors.Join(err, store.Close()); err != nil {
		return err
	}
	return g.printSnapshotInfo(info, path, "created")
}

// writeSignedSnapshot writes the snapshot of the last snapshot height at
// or below height into the home's snapshot directory, streamed from store
// and checked as it is written against the app hash the validators signed
// for it (read from h's block store): a snapshot that does not check out
// leaves no file.
func writeSignedSnapshot(h *consensus.Home, store storage.Store, height uint64) (engine.SnapshotInfo, string, error) {
	snapH, err := engine.SnapshotHeight(store, height)
	if err != nil {
		return engine.SnapshotInfo{}, "", err
	}
	signed, err := signedAppHash(h, snapH)
	if err != nil {
		return engine.SnapshotInfo{}, "", err
	}
	dir := snapshotsDir(h)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return engine.SnapshotInfo{}, "", err
	}
	path := filepath.Join(dir, fmt.Sprintf("%d.snap", snapH))
	info, err := abci.WriteSnapshotFile(path, func(w io.Writer) (engine.SnapshotInfo, error) {
		return engine.WriteSnapshot(store, snapH, w, signed)
	})
	return info, path, err
}

// verifySigned checks s against the app hash the validators signed for
// its height, read from h's block store.
func verifySigned(h *consensus.Home, f *backupFile) error {
	signed, err := signedAppHash(h, f.header.Height)
	if err != nil {
		return err
	}
	return f.verifySnapshot(signed)
}

// signedAppHash is the app hash the validators signed for height, read
// from h's block store.
func signedAppHash(h *consensus.Home, height uint64) ([]byte, error) {
	signed, err := consensus.SignedAppHash(h, int64(height))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", engine.ErrSnapshot, err)
	}
	return signed, nil
}

// printSnapshot prints a verified backup (or bare snapshot) of size bytes.
func (g *globals) printSnapshot(f *backupFile, size int, file, verb string) error {
	info := f.info
	info.Bytes = int64(size)
	return g.printSnapshotInfo(info, file, verb)
}

func snapshotJSONOf(info engine.SnapshotInfo, file string) snapshotJSON {
	j := snapshotJSON{Height: info.Height, AppHash: strings.ToUpper(hex.EncodeToString(info.AppHash)), Entries: int(info.Entries), Bytes: int(info.Bytes), File: file}
	if info.AuditHead.Hash != nil {
		j.AuditHead = info.AuditHead.String()
	}
	return j
}

func (g *globals) printSnapshotInfo(info engine.SnapshotInfo, file, verb string) error {
	j := snapshotJSONOf(info, file)
	return g.print(j, func(w io.Writer) {
		fmt.Fprintf(w, "%s snapshot of height %d: app hash %s, audit head %s, %d entries, %d bytes\n", verb, j.Height, j.AppHash, j.AuditHead, j.Entries, j.Bytes)
		if file != "" {
			fmt.Fprintln(w, file)
		}
	})
}

// listedSnapshot describes the snapshot file name from its header and
// size (the entries are not read).
func listedSnapshot(name string) (snapshotJSON, error) {
	f, err := os.Open(name)
	if err != nil {
		return snapshotJSON{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return snapshotJSON{}, err
	}
	h, err := engine.ReadSnapshotHeader(f)
	if err != nil {
		return snapshotJSON{}, err
	}
	return snapshotJSONOf(engine.SnapshotInfo{SnapshotHeader: h, Bytes: fi.Size()}, name), nil
}

func (g *globals) snapshotList() error {
	h, err := consensus.OpenHome(g.home)
	if err != nil {
		return err
	}
	names, err := filepath.Glob(filepath.Join(snapshotsDir(h), "*.snap"))
	if err != nil {
		return err
	}
	var out []snapshotJSON
	for _, name := range names {
		j, err := listedSnapshot(name)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, j)
	}
	slices.SortFunc(out, func(a, b snapshotJSON) int { return int(a.Height) - int(b.Height) })
	return g.print(out, func(w io.Writer) {
		fmt.Fprintf(w, "%-10s %-10s %-8s %s\n", "HEIGHT", "BYTES", "ENTRIES", "APP HASH")
		for _, s := range out {
			fmt.Fprintf(w, "%-10d %-10d %-8d %s\n", s.Height, s.Bytes, s.Entries, s.AppHash)
		}
	})
}
