package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/storage"
)

// VerifySnapshot checks s against trusted, the app hash of s.Height that
// the validators signed (the header of s.Height+1): the entries are in
// order with no version above the height, their digest gives the state
// hash in the head record, that state hash and audit head give trusted, and
// the audit entries chain up to that head. Anything else is ErrSnapshot
// with the reason.
func VerifySnapshot(s *Snapshot, trusted []byte) error {
	d := newDigest()
	var auditEntries []storage.Entry
	for i, ent := range s.Entries {
		switch {
		case len(ent.Key) == 0 || ent.Deleted:
			return fmt.Errorf("%w: entry %d is empty or a tombstone", ErrSnapshot, i)
		case i > 0 && bytes.Compare(s.Entries[i-1].Key, ent.Key) >= 0:
			return fmt.Errorf("%w: entry %d is out of order", ErrSnapshot, i)
		case ent.Version.Height > s.Height:
			return fmt.Errorf("%w: entry %d has a version above the snapshot height %d", ErrSnapshot, i, s.Height)
		case ent.Key[0] == nsAudit:
			auditEntries = append(auditEntries, ent)
		case !isDerived(ent.Key):
			d.add(ent)
		}
	}
	sum := d.sum()
	appHash, _, err := snapshotHeader(s)
	if err != nil {
		return err
	}
	head, _ := s.find(headKey)
	state, chainHead, _ := decodeHeadRecord(head.Value)
	rec, ok := s.find(digestKey)
	if head.Version.Height != s.Height || rec.Version.Height != s.Height {
		return fmt.Errorf("%w: the head or digest record is not of height %d", ErrSnapshot, s.Height)
	}
	if !ok || !bytes.Equal(rec.Value, append(binary.AppendUvarint(nil, s.Height), sum...)) {
		return fmt.Errorf("%w: the state does not match its digest record (a key, value or version was changed)", ErrSnapshot)
	}
	if !bytes.Equal(state, digestStateHash(s.PrevStateHash, s.Height, sum)) {
		return fmt.Errorf("%w: the state digest does not give the state hash of height %d", ErrSnapshot, s.Height)
	}
	if !bytes.Equal(appHash, trusted) || !bytes.Equal(s.AppHash, trusted) {
		return fmt.Errorf("%w: app hash %X, the validators signed %X for height %d", ErrSnapshot, appHash, trusted, s.Height)
	}
	return verifySnapshotAudit(auditEntries, chainHead, snapshotAuditFloor(s))
}

// verifySnapshotAudit checks that the audit entries, from seq from (the
// audit floor), are the chain whose head is head.
func verifySnapshotAudit(entries []storage.Entry, head audit.ChainHead, from uint64) error {
	v := audit.NewVerifierAt(from)
	for i, ent := range entries {
		a, err := audit.Decode(ent.Value)
		if err != nil {
			return fmt.Errorf("%w: audit entry %d: %v", ErrSnapshot, i+1, err)
		}
		if !bytes.Equal(ent.Key, auditKey(a.Seq)) || ent.Version != (storage.Version{Height: a.Height, Index: a.TxIndex}) {
			return fmt.Errorf("%w: audit entry %d is stored under another number or version", ErrSnapshot, a.Seq)
		}
		if err := v.Add(&a); err != nil {
			return fmt.Errorf("%w: audit chain: %v", ErrSnapshot, err)
		}
	}
	if !v.Head().Equal(head) {
		return fmt.Errorf("%w: the audit entries end at %s, the signed head is %s", ErrSnapshot, v.Head(), head)
	}
	return nil
}

// Restore rebuilds the engine's empty store from s, which the caller has
// verified (VerifySnapshot), and reloads the engine from it: it is then at
// s.Height with s.AppHash.
func (e *Engine) Restore(s *Snapshot) error {
	if e.staged != nil {
		return ErrStaged
	}
	if err := e.store.Restore(storage.Batch{Height: s.Height, AppHash: s.AppHash, Writes: s.Entries}); err != nil {
		return fmt.Errorf("abci: restore snapshot %d: %w", s.Height, err)
	}
	fresh, err := NewEngine(e.store, e.verifier)
	if err != nil {
		return err
	}
	*e = *fresh
	return nil
}

// Snapshot encoding: "dstt-snapshot/v1\n", then uvarint-length-prefixed
// fields: chain id, height, app hash, prev state hash, the entry count,
// then per entry key, height, index, value.
const snapshotMagic = "dstt-snapshot/v1\n"

// Encode is the file and chunk form of s.
func (s *Snapshot) Encode() []byte {
	b := []byte(snapshotMagic)
	b = appendField(b, []byte(s.ChainID))
	b = binary.AppendUvarint(b, s.Height)
	b = appendField(b, s.AppHash)
	b = appendField(b, s.PrevStateHash)
	b = binary.AppendUvarint(b, uint64(len(s.Entries)))
	for _, e := range s.Entries {
		b = appendField(b, e.Key)
		b = binary.AppendUvarint(b, e.Version.Height)
		b = binary.AppendUvarint(b, uint64(e.Version.Index))
		b = appendField(b, e.Value)
	}
	return b
}

func appendField(b, v []byte) []byte { return append(binary.AppendUvarint(b, uint64(len(v))), v...) }

// DecodeSnapshot reverses Encode. It allocates no more than the input's
// size, whatever the counts in it say.
func DecodeSnapshot(b []byte) (*Snapshot, error) {
	if !bytes.HasPrefix(b, []byte(snapshotMagic)) {
		return nil, fmt.Errorf("%w: not a dstt snapshot (format v1)", ErrSnapshot)
	}
	r := snapReader{b: b[len(snapshotMagic):]}
	s := &Snapshot{ChainID: string(r.field()), Height: r.uvarint(), AppHash: r.field(), PrevStateHash: r.field()}
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err = errors.New("entry count over the input size")
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		e := storage.Entry{Key: r.field()}
		e.Version.Height = r.uvarint()
		idx := r.uvarint()
		if idx > 1<<32-1 {
			r.err = errors.New("tx index out of range")
		}
		e.Version.Index = uint32(idx)
		e.Value = r.field()
		s.Entries = append(s.Entries, e)
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = errors.New("trailing bytes")
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: malformed: %v", ErrSnapshot, r.err)
	}
	return s, nil
}

type snapReader struct {
	b   []byte
	err error
}

func (r *snapReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("truncated")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *snapReader) field() []byte {
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)) {
		r.err = errors.New("truncated")
	}
	if r.err != nil {
		return nil
	}
	v := append([]byte{}, r.b[:n]...)
	r.b = r.b[n:]
	return v
}
