package engine

import (
	"bytes"
	"encoding/binary"
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
	c := newSnapshotCheck(s.Height)
	for _, ent := range s.Entries {
		if err := c.add(ent); err != nil {
			return err
		}
	}
	return c.finish(s.PrevStateHash, s.AppHash, trusted)
}

// snapshotCheck is VerifySnapshot one entry at a time, in the snapshot's
// order: it holds the digest, the audit chain's head and the few records
// it compares at the end, not the entries.
type snapshotCheck struct {
	height uint64
	n      int
	last   []byte
	d      *digest
	// records: the head, digest, chain and anchor records.
	records map[string]storage.Entry
	audit   *audit.Verifier
	auditN  int
	// auditErr is the first audit chain error, reported after the
	// state checks (as the whole-snapshot check did).
	auditErr error
}

func newSnapshotCheck(height uint64) *snapshotCheck {
	return &snapshotCheck{height: height, d: newDigest(), records: map[string]storage.Entry{}}
}

func (c *snapshotCheck) find(key []byte) (storage.Entry, bool) {
	ent, ok := c.records[string(key)]
	return ent, ok
}

// add checks the next entry.
func (c *snapshotCheck) add(ent storage.Entry) error {
	i := c.n
	c.n++
	switch {
	case len(ent.Key) == 0 || ent.Deleted:
		return fmt.Errorf("%w: entry %d is empty or a tombstone", ErrSnapshot, i)
	case i > 0 && bytes.Compare(c.last, ent.Key) >= 0:
		return fmt.Errorf("%w: entry %d is out of order", ErrSnapshot, i)
	case ent.Version.Height > c.height:
		return fmt.Errorf("%w: entry %d has a version above the snapshot height %d", ErrSnapshot, i, c.height)
	}
	c.last = append(c.last[:0], ent.Key...)
	if k := string(ent.Key); k == string(headKey) || k == string(digestKey) || k == string(paramsKey) || k == string(anchorKey) {
		c.records[k] = storage.Entry{Key: bytes.Clone(ent.Key), Value: bytes.Clone(ent.Value), Version: ent.Version}
	}
	switch {
	case ent.Key[0] == nsAudit:
		c.addAudit(ent)
	case !isDerived(ent.Key):
		c.d.add(ent)
	}
	return nil
}

// addAudit checks the next audit entry against the chain so far, from
// the audit floor (the anchor record sorts before the audit entries).
func (c *snapshotCheck) addAudit(ent storage.Entry) {
	if c.audit == nil {
		c.audit = audit.NewVerifierAt(snapshotAuditFloor(c.find(anchorKey)))
	}
	c.auditN++
	if c.auditErr != nil {
		return
	}
	a, err := audit.Decode(ent.Value)
	switch {
	case err != nil:
		c.auditErr = fmt.Errorf("%w: audit entry %d: %v", ErrSnapshot, c.auditN, err)
	case !bytes.Equal(ent.Key, auditKey(a.Seq)) || ent.Version != (storage.Version{Height: a.Height, Index: a.TxIndex}):
		c.auditErr = fmt.Errorf("%w: audit entry %d is stored under another number or version", ErrSnapshot, a.Seq)
	default:
		if err := c.audit.Add(&a); err != nil {
			c.auditErr = fmt.Errorf("%w: audit chain: %v", ErrSnapshot, err)
		}
	}
}

// finish checks the whole: prev is the snapshot's state hash before its
// height, appHash the app hash it claims, trusted the signed one.
func (c *snapshotCheck) finish(prev, appHash, trusted []byte) error {
	sum := c.d.sum()
	derived, _, err := snapshotHeader(c.find)
	if err != nil {
		return err
	}
	head, _ := c.find(headKey)
	state, chainHead, _ := decodeHeadRecord(head.Value)
	rec, ok := c.find(digestKey)
	if head.Version.Height != c.height || rec.Version.Height != c.height {
		return fmt.Errorf("%w: the head or digest record is not of height %d", ErrSnapshot, c.height)
	}
	if !ok || !bytes.Equal(rec.Value, append(binary.AppendUvarint(nil, c.height), sum...)) {
		return fmt.Errorf("%w: the state does not match its digest record (a key, value or version was changed)", ErrSnapshot)
	}
	if !bytes.Equal(state, digestStateHash(prev, c.height, sum)) {
		return fmt.Errorf("%w: the state digest does not give the state hash of height %d", ErrSnapshot, c.height)
	}
	if !bytes.Equal(derived, trusted) || !bytes.Equal(appHash, trusted) {
		return fmt.Errorf("%w: app hash %X, the validators signed %X for height %d", ErrSnapshot, derived, trusted, c.height)
	}
	if c.auditErr != nil {
		return c.auditErr
	}
	if c.audit == nil {
		c.audit = audit.NewVerifierAt(snapshotAuditFloor(c.find(anchorKey)))
	}
	if !c.audit.Head().Equal(chainHead) {
		return fmt.Errorf("%w: the audit entries end at %s, the signed head is %s", ErrSnapshot, c.audit.Head(), chainHead)
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
	return e.reload()
}

// Snapshot encoding: "dstt-snapshot/v1\n", then uvarint-length-prefixed
// fields: chain id, height, app hash, prev state hash, the entry count,
// then per entry key, height, index, value.
const snapshotMagic = "dstt-snapshot/v1\n"

// SnapshotHeader is what an encoded snapshot says before its entries.
type SnapshotHeader struct {
	ChainID string
	Height  uint64
	// AppHash and PrevStateHash: as in Snapshot.
	AppHash, PrevStateHash []byte
	Entries                uint64
}

// Header is the header of s's encoding.
func (s *Snapshot) Header() SnapshotHeader {
	return SnapshotHeader{ChainID: s.ChainID, Height: s.Height, AppHash: s.AppHash, PrevStateHash: s.PrevStateHash, Entries: uint64(len(s.Entries))}
}

// Encode is the file and chunk form of s (WriteSnapshot writes the same
// bytes from a store, an entry at a time).
func (s *Snapshot) Encode() []byte {
	b := appendSnapshotHeader([]byte(snapshotMagic), s.Header())
	for _, e := range s.Entries {
		b = appendSnapshotEntry(b, e)
	}
	return b
}

// appendSnapshotHeader appends the fields after the magic: chain id,
// height, app hash, prev state hash, entry count.
func appendSnapshotHeader(b []byte, h SnapshotHeader) []byte {
	b = appendField(b, []byte(h.ChainID))
	b = binary.AppendUvarint(b, h.Height)
	b = appendField(b, h.AppHash)
	b = appendField(b, h.PrevStateHash)
	return binary.AppendUvarint(b, h.Entries)
}

// appendSnapshotEntry appends one entry: key, height, index, value.
func appendSnapshotEntry(b []byte, e storage.Entry) []byte {
	b = appendField(b, e.Key)
	b = binary.AppendUvarint(b, e.Version.Height)
	b = binary.AppendUvarint(b, uint64(e.Version.Index))
	return appendField(b, e.Value)
}

func appendField(b, v []byte) []byte { return append(binary.AppendUvarint(b, uint64(len(v))), v...) }
