package engine

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/storage"
)

// Snapshots. The state hash is a hash chain over the blocks' writes, so by
// itself it does not let anyone check a copy of the state. With the chain
// param snapshot_interval set, the first block that writes state at least
// that many heights after the last snapshot height is a snapshot height H:
// its state hash is
//
//	SHA-256("dstt/state-digest/v1\0" || uvarint(len(prev)) || prev || uvarint(H) || digest)
//
// where prev is the state hash before the block and digest is stateDigest
// over every live key of the state after the block (audit and other derived
// records aside; the audit chain is checked through its own head). So the
// app hash of H, which the validators sign in the header of H+1, covers the
// whole state at H, and a snapshot of it is verified by recomputing the
// digest. Every replica decides the snapshot heights alike (from params and
// committed state), and a restored replica goes on computing the same ones.
//
//	nsDigest -> uvarint(H) || 32-byte digest: the last snapshot height (derived)
const nsDigest = 'D'

var digestKey = []byte{nsDigest}

// ErrSnapshot: a snapshot does not check out (the message says why).
var ErrSnapshot = errors.New("abci: snapshot refused")

// loadDigest sets e.lastDigest from state.
func (e *Engine) loadDigest() error {
	h, _, ok, err := readDigest(e.store, 0)
	if ok {
		e.lastDigest = h
	}
	return err
}

// readDigest is the digest record visible at height (0: latest).
func readDigest(store storage.Store, height uint64) (uint64, []byte, bool, error) {
	ent, ok, err := store.Get(digestKey, height)
	if err != nil || !ok || ent.Deleted {
		return 0, nil, false, err
	}
	h, n := binary.Uvarint(ent.Value)
	if n <= 0 || len(ent.Value)-n != sha256.Size {
		return 0, nil, false, errors.New("abci: bad state digest record")
	}
	return h, ent.Value[n:], true, nil
}

// stageDigest makes height a snapshot height when the params say so and
// the block writes state: it computes the digest of the state after the
// block and stages the digest record.
func (e *Engine) stageDigest(st *staged, height uint64) error {
	k := e.params.SnapshotInterval
	if k == 0 || height < e.lastDigest+k || !slices.ContainsFunc(st.writes, func(w storage.Entry) bool { return !isDerived(w.Key) }) {
		return nil
	}
	d := newDigest()
	keys := make([]string, 0, len(st.latest))
	for key := range st.latest {
		if !isDerived([]byte(key)) {
			keys = append(keys, key)
		}
	}
	slices.Sort(keys)
	i := 0
	err := e.store.Scan(nil, 0, func(ent storage.Entry) bool {
		if isDerived(ent.Key) {
			return true
		}
		for ; i < len(keys) && keys[i] < string(ent.Key); i++ {
			d.add(st.writes[st.latest[keys[i]]])
		}
		if i < len(keys) && keys[i] == string(ent.Key) {
			d.add(st.writes[st.latest[keys[i]]])
			i++
			return true
		}
		d.add(ent)
		return true
	})
	if err != nil {
		return err
	}
	for ; i < len(keys); i++ {
		d.add(st.writes[st.latest[keys[i]]])
	}
	st.digest = d.sum()
	rec := append(binary.AppendUvarint(nil, height), st.digest...)
	st.put(storage.Entry{Key: digestKey, Value: rec, Version: storage.Version{Height: height}})
	return nil
}

// digest hashes live entries in ascending key order.
type digest struct {
	h   hash.Hash
	buf []byte
}

func newDigest() *digest {
	h := sha256.New()
	h.Write([]byte("dstt/state/v1\x00"))
	return &digest{h: h}
}

// add hashes one entry (a tombstone is no live key: skipped).
func (d *digest) add(ent storage.Entry) {
	if ent.Deleted {
		return
	}
	b := binary.AppendUvarint(d.buf[:0], uint64(len(ent.Key)))
	b = append(b, ent.Key...)
	b = binary.AppendUvarint(b, ent.Version.Height)
	b = binary.AppendUvarint(b, uint64(ent.Version.Index))
	b = binary.AppendUvarint(b, uint64(len(ent.Value)))
	b = append(b, ent.Value...)
	_, _ = d.h.Write(b)
	d.buf = b
}

func (d *digest) sum() []byte { return d.h.Sum(nil) }

// digestStateHash is the state hash of a snapshot height.
func digestStateHash(prev []byte, height uint64, digest []byte) []byte {
	h := sha256.New()
	h.Write([]byte("dstt/state-digest/v1\x00"))
	h.Write(binary.AppendUvarint(nil, uint64(len(prev))))
	h.Write(prev)
	h.Write(binary.AppendUvarint(nil, height))
	h.Write(digest)
	return h.Sum(nil)
}

// Snapshot is the state at a snapshot height: what a node is rebuilt from.
type Snapshot struct {
	ChainID string
	Height  uint64
	// AppHash is the app hash of Height (signed in the header of Height+1).
	AppHash []byte
	// PrevStateHash is the state hash before block Height.
	PrevStateHash []byte
	// Entries is the newest version at Height of every live key, in
	// ascending key order: the state, the audit chain and its head record.
	Entries []storage.Entry
}

// LastSnapshotHeight is the last snapshot height in committed state (0:
// none yet).
func (r Reader) LastSnapshotHeight() uint64 { return r.e.lastDigest }

// ExportSnapshot reads the snapshot at the last snapshot height at or below
// height (0: the last one) from store. The store must still hold that
// height (retention keeps the last snapshot height readable).
func ExportSnapshot(store storage.Store, height uint64) (*Snapshot, error) {
	h, _, ok, err := readDigest(store, height)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: no snapshot height at or below %d (is snapshot_interval set?)", ErrSnapshot, height)
	}
	s := &Snapshot{Height: h}
	err = store.Scan(nil, h, func(ent storage.Entry) bool {
		s.Entries = append(s.Entries, ent)
		return true
	})
	if err != nil {
		return nil, err
	}
	prev, err := store.History(headKey, storage.Version{Height: h}, 1)
	if err != nil || len(prev) == 0 {
		return nil, fmt.Errorf("abci: snapshot %d: the state hash before it: %v", h, err)
	}
	if s.PrevStateHash, _, err = decodeHeadRecord(prev[0].Value); err != nil {
		return nil, err
	}
	if s.AppHash, s.ChainID, err = snapshotHeader(s.find); err != nil {
		return nil, err
	}
	return s, nil
}

// find returns the entry of key in s.Entries.
func (s *Snapshot) find(key []byte) (storage.Entry, bool) {
	i, ok := slices.BinarySearchFunc(s.Entries, key, func(e storage.Entry, k []byte) int { return bytes.Compare(e.Key, k) })
	if !ok {
		return storage.Entry{}, false
	}
	return s.Entries[i], true
}

// snapshotHeader derives the app hash (from the head record) and the
// chain id (from the chain record) of a snapshot whose entries find
// looks up.
func snapshotHeader(find func(key []byte) (storage.Entry, bool)) ([]byte, string, error) {
	ent, ok := find(headKey)
	if !ok {
		return nil, "", fmt.Errorf("%w: no head record", ErrSnapshot)
	}
	state, head, err := decodeHeadRecord(ent.Value)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrSnapshot, err)
	}
	var rec chainRecord
	ent, ok = find(paramsKey)
	if !ok || json.Unmarshal(ent.Value, &rec) != nil {
		return nil, "", fmt.Errorf("%w: no chain record", ErrSnapshot)
	}
	return audit.AppHash(state, head), rec.ChainID, nil
}

// AuditHead is the audit chain head recorded in s.
func (s *Snapshot) AuditHead() (audit.ChainHead, error) {
	ent, ok := s.find(headKey)
	if !ok {
		return audit.ChainHead{}, fmt.Errorf("%w: no head record", ErrSnapshot)
	}
	_, head, err := decodeHeadRecord(ent.Value)
	return head, err
}

// Snapshot is ExportSnapshot of the engine's store at the snapshot height
// at or below height.
func (e *Engine) Snapshot(height uint64) (*Snapshot, error) { return ExportSnapshot(e.store, height) }

// WriteSnapshot is WriteSnapshot of the engine's store at the snapshot
// height at or below height, unchecked.
func (e *Engine) WriteSnapshot(height uint64, w io.Writer) (SnapshotInfo, error) {
	return WriteSnapshot(e.store, height, w, nil)
}
