package engine

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// TestWriteSnapshotIsEncode: on Pebble and in memory, a chain with
// thousands of keys, deletes, audit entries and an audit chain pruned
// below an anchor; WriteSnapshot gives byte for byte what
// ExportSnapshot(...).Encode() gives, at the last snapshot height and at
// an older one, with the size, hash, app hash and audit head of those
// bytes; checked against the signed app hash it writes the same, and
// against another app hash it is refused.
func TestWriteSnapshotIsEncode(t *testing.T) {
	ps, err := storage.NewPebbleStore(t.TempDir(), storage.DefaultPebbleOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ps.Close() })
	for name, store := range map[string]storage.Store{"pebble": ps, "memory": storage.NewInMemoryStore()} {
		t.Run(name, func(t *testing.T) {
			src, hashes := snapshotChain(t, store)
			last := src.Reader().LastSnapshotHeight()
			older, err := SnapshotHeight(src.store, last-1)
			if err != nil || older == 0 || older == last {
				t.Fatalf("an older snapshot height below %d: %d (%v)", last, older, err)
			}
			for _, h := range []uint64{0, last - 1} {
				s := sameAsEncode(t, src.store, h, hashes)
				if h == last-1 && s.Height != older {
					t.Fatalf("snapshot at or below %d is of height %d, want %d", h, s.Height, older)
				}
			}
			if _, err := WriteSnapshot(src.store, 0, failingWriter{}, nil); !errors.Is(err, errWriteFailed) {
				t.Fatalf("WriteSnapshot to a failing writer: %v, want its error", err)
			}
		})
	}
}

// snapshotChain builds a chain with snapshot_interval 5 on store: 20
// blocks of 300 puts each, deletes of every third key written two blocks
// earlier, refused txs that add audit entries, and an audit anchor that
// prunes the chain below entry 4. It returns the app hash of each height.
func snapshotChain(t *testing.T, store storage.Store) (*Engine, map[uint64][]byte) {
	src := newRetentionChain(t, types.Params{SnapshotInterval: 5}, store)
	hashes := map[uint64][]byte{}
	for range 6 { // refused: one org does not make a validator change
		res := runBlock(t, src, typestest.GovTx(t, src.Height(), []types.Op{typestest.AddValidator("val9", 1, "org0")}, "signer1"))
		hashes[src.Height()] = res.AppHash
	}
	res := runBlock(t, src, typestest.GovTx(t, src.Height(), anchorOp(4, entryHash(t, src, 4), 4), "signer0", "signer1"))
	mustOK(t, res, 0)
	hashes[src.Height()] = res.AppHash
	for b := range 20 {
		var ops []types.Op
		for i := range 300 {
			ops = append(ops, typestest.Put(fmt.Sprintf("d0/b%d/k%d", b, i), fmt.Sprintf("value %d of block %d", i, b)))
			if b >= 2 && i%3 == 0 {
				ops = append(ops, typestest.Delete(fmt.Sprintf("d0/b%d/k%d", b-2, i)))
			}
		}
		res := runBlock(t, src, typestest.GovTx(t, src.Height(), ops, "signer0"))
		mustOK(t, res, 0)
		hashes[src.Height()] = res.AppHash
	}
	return src, hashes
}

// sameAsEncode checks WriteSnapshot against ExportSnapshot(...).Encode()
// at height and returns the snapshot.
func sameAsEncode(t *testing.T, store storage.Store, height uint64, hashes map[uint64][]byte) *Snapshot {
	t.Helper()
	s, err := ExportSnapshot(store, height)
	if err != nil {
		t.Fatal(err)
	}
	want := s.Encode()
	head, err := s.AuditHead()
	if err != nil {
		t.Fatal(err)
	}
	if s.Height == 0 || len(s.Entries) < 1000 || head.Seq < 7 {
		t.Fatalf("snapshot of height %d: %d entries, audit head %s; want thousands of keys and audit entries", s.Height, len(s.Entries), head)
	}
	sum := sha256.Sum256(want)
	for _, trusted := range [][]byte{nil, hashes[s.Height]} {
		var got bytes.Buffer
		info, err := WriteSnapshot(store, height, &got, trusted)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("height %d (checked: %v): WriteSnapshot wrote %d bytes, Encode %d; first difference at %d", s.Height, trusted != nil, got.Len(), len(want), firstDiff(got.Bytes(), want))
		}
		if info.Height != s.Height || !bytes.Equal(info.AppHash, s.AppHash) || info.ChainID != s.ChainID || !info.AuditHead.Equal(head) ||
			info.Entries != uint64(len(s.Entries)) || info.Bytes != int64(len(want)) || !bytes.Equal(info.SHA256, sum[:]) {
			t.Fatalf("height %d: info %+v; the snapshot has app hash %X, audit head %s, %d entries, %d bytes, SHA-256 %X",
				s.Height, info, s.AppHash, head, len(s.Entries), len(want), sum)
		}
	}
	if hd, err := ReadSnapshotHeader(bytes.NewReader(want)); err != nil || !reflect.DeepEqual(hd, s.Header()) {
		t.Fatalf("ReadSnapshotHeader: %+v (%v), want %+v", hd, err, s.Header())
	}
	if !bytes.Equal(s.AppHash, hashes[s.Height]) {
		t.Fatalf("snapshot app hash %X, the chain's at %d %X", s.AppHash, s.Height, hashes[s.Height])
	}
	other := append([]byte{^hashes[s.Height][0]}, hashes[s.Height][1:]...)
	if _, err := WriteSnapshot(store, height, &bytes.Buffer{}, other); !errors.Is(err, ErrSnapshot) {
		t.Fatalf("WriteSnapshot checked against another app hash: %v, want ErrSnapshot", err)
	}
	return s
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestReadSnapshotHeader: the header of a snapshot shorter than the
// bytes ReadSnapshotHeader reads is read whole; a cut header or another
// file is refused.
func TestReadSnapshotHeader(t *testing.T) {
	s := &Snapshot{ChainID: "c", Height: 9, AppHash: bytes.Repeat([]byte{1}, 32), PrevStateHash: bytes.Repeat([]byte{2}, 32),
		Entries: []storage.Entry{{Key: []byte("k"), Value: []byte("v"), Version: storage.Version{Height: 9}}}}
	enc := s.Encode()
	if hd, err := ReadSnapshotHeader(bytes.NewReader(enc)); err != nil || !reflect.DeepEqual(hd, s.Header()) {
		t.Fatalf("ReadSnapshotHeader: %+v (%v), want %+v", hd, err, s.Header())
	}
	// A snapshot of more entries than the 4 KiB read hold.
	big := *s
	big.Entries = nil
	for i := range 10000 {
		big.Entries = append(big.Entries, storage.Entry{Key: fmt.Appendf(nil, "k%05d", i), Value: []byte("v"), Version: storage.Version{Height: 9}})
	}
	if hd, err := ReadSnapshotHeader(bytes.NewReader(big.Encode())); err != nil || !reflect.DeepEqual(hd, big.Header()) {
		t.Fatalf("ReadSnapshotHeader of %d entries: %+v (%v), want %+v", len(big.Entries), hd, err, big.Header())
	}
	for _, b := range [][]byte{enc[:len(snapshotMagic)+40], []byte("dstt-backup/v2\n"), nil} {
		if _, err := ReadSnapshotHeader(bytes.NewReader(b)); !errors.Is(err, ErrSnapshot) {
			t.Fatalf("ReadSnapshotHeader(%q): %v, want ErrSnapshot", b, err)
		}
	}
}

// FuzzDecodeSnapshot: any input decodes or is refused with ErrSnapshot,
// never a panic; a decoded snapshot encodes to bytes that decode to it
// again, and its header is what ReadSnapshotHeader reads.
func FuzzDecodeSnapshot(f *testing.F) {
	s := &Snapshot{ChainID: "c", Height: 9, AppHash: []byte{1}, PrevStateHash: []byte{2},
		Entries: []storage.Entry{{Key: []byte("k"), Value: []byte("v"), Version: storage.Version{Height: 9, Index: 1}}}}
	f.Add(s.Encode())
	f.Add([]byte(snapshotMagic + "\x00\x00\x00\x00\x00"))
	f.Add([]byte(snapshotMagic + "\x01c\x09\x00\x00\xff\xff\xff\xff\x0f"))
	f.Fuzz(func(t *testing.T, in []byte) {
		hd, herr := ReadSnapshotHeader(bytes.NewReader(in))
		if herr != nil && !errors.Is(herr, ErrSnapshot) {
			t.Fatalf("header of %q: %v, not a snapshot refusal", in, herr)
		}
		s, err := DecodeSnapshot(in)
		if err != nil {
			if !errors.Is(err, ErrSnapshot) {
				t.Fatalf("%q: %v, not a snapshot refusal", in, err)
			}
			return
		}
		again, err := DecodeSnapshot(s.Encode())
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("%q: decoded, encoded and decoded again: %+v (%v), want %+v", in, again, err, s)
		}
		if len(in) <= maxSnapshotHeader && (herr != nil || !reflect.DeepEqual(hd, s.Header())) {
			t.Fatalf("%q: header %+v (%v), the snapshot's %+v", in, hd, herr, s.Header())
		}
	})
}

var errWriteFailed = errors.New("write failed")

// failingWriter fails every write.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errWriteFailed }
