package abci

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/dstt/dstt/abci/engine"
)

// TestWriteSnapshotFileWholeOrAbsent: a write that fails part-way (the
// store, the disk, or a check that refuses the snapshot) leaves neither
// the file nor its temporary; one that succeeds leaves the file with its
// bytes and replaces an older one.
func TestWriteSnapshotFileWholeOrAbsent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "7.snap")
	failed := errors.New("disk full")
	_, err := WriteSnapshotFile(path, func(w io.Writer) (engine.SnapshotInfo, error) {
		if _, err := w.Write([]byte("dstt-snapshot/v1\npart")); err != nil {
			t.Fatal(err)
		}
		return engine.SnapshotInfo{}, failed
	})
	if !errors.Is(err, failed) {
		t.Fatalf("WriteSnapshotFile: %v, want the write's error", err)
	}
	if names, _ := filepath.Glob(filepath.Join(dir, "*")); len(names) != 0 {
		t.Fatalf("after a failed write the directory holds %v", names)
	}
	for _, content := range []string{"old", "new"} {
		info, err := WriteSnapshotFile(path, func(w io.Writer) (engine.SnapshotInfo, error) {
			_, err := io.WriteString(w, content)
			return engine.SnapshotInfo{Bytes: int64(len(content))}, err
		})
		if err != nil || info.Bytes != int64(len(content)) {
			t.Fatalf("WriteSnapshotFile: %+v %v", info, err)
		}
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "new" {
		t.Fatalf("the file holds %q (%v), want the last write", b, err)
	}
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the temporary file is left: %v", err)
	}
}
