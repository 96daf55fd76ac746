package audit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
)

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
