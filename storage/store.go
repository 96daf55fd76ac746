package storage

import "errors"

// Version identifies one write: the block height and the index of the
// transaction in that block. Versions of a key only grow. The zero Version
// means "no value".
type Version struct {
	Height uint64
	Index  uint32
}

// IsZero reports whether v is the zero version.
func (v Version) IsZero() bool { return v.Height == 0 && v.Index == 0 }

// Less orders versions by height, then index.
func (v Version) Less(o Version) bool {
	if v.Height != o.Height {
		return v.Height < o.Height
	}
	return v.Index < o.Index
}

// Entry is one version of one key. A delete is recorded as a tombstone:
// Deleted is true and Value is nil.
type Entry struct {
	Key     []byte
	Value   []byte
	Version Version
	Deleted bool
}

// Batch is everything one block changes. Commit applies it atomically and
// durably, together with the block's height and app hash.
type Batch struct {
	Height  uint64
	AppHash []byte
	// Writes in application order. Every write's Version.Height equals
	// Height. Two writes with the same key and version: the later one wins.
	Writes []Entry
}

// Errors returned by every Store.
var (
	// ErrHeightOrder: a batch's height is not above the last committed height
	// (height 0 may be committed, once, only while nothing else is).
	ErrHeightOrder = errors.New("storage: batch height must be above the last committed height")
	// ErrBadWrite: a write has an empty key or a version from another height.
	ErrBadWrite = errors.New("storage: bad write in batch")
	// ErrNotEmpty: Restore into a store that was committed to, or Commit
	// into one that holds an unfinished restore.
	ErrNotEmpty = errors.New("storage: restore needs an empty store")
	// ErrClosed: the store was used after Close.
	ErrClosed = errors.New("storage: store is closed")
	// ErrPruned: a read asked for a height below the retained history.
	ErrPruned = errors.New("storage: height is below the retained history")
)

// Store is a versioned (MVCC) key-value store. Reads see only committed
// batches. Implementations are safe for concurrent use: reads may run while
// a Commit is in progress and see either all of the batch or none of it.
type Store interface {
	// Get returns the newest version of key with Version.Height <= height;
	// height 0 means the latest committed state. ok is false if the key has
	// no such version. A tombstone comes back with ok true and Deleted true.
	Get(key []byte, height uint64) (e Entry, ok bool, err error)

	// History returns up to limit versions of key, newest first, all strictly
	// older than before (the zero Version means "start from the newest").
	// Tombstones are included. limit <= 0 means a default of 100.
	History(key []byte, before Version, limit int) ([]Entry, error)

	// Scan calls fn, in ascending key order, with the newest version at or
	// below height (0 = latest) of every key that starts with prefix,
	// skipping keys whose newest such version is a tombstone. fn returning
	// false stops the scan.
	Scan(prefix []byte, height uint64, fn func(Entry) bool) error

	// Commit applies b atomically and durably (synced before it returns).
	// A store that was never committed to but holds data (a restore that
	// did not finish, see RestoreFrom) refuses it with ErrNotEmpty: only a
	// restore can go on from there.
	Commit(b Batch) error

	// Last returns the height and app hash of the last committed batch
	// (0 and nil for a new store).
	Last() (height uint64, appHash []byte, err error)

	// Prune drops versions that no read at height >= keepFrom can see: for
	// each key, every version older than its newest version at or below
	// keepFrom. The latest value of a key is never pruned, nor any version
	// of a key that starts with one of the keep prefixes (History still
	// lists them all). Reads below keepFrom afterwards return ErrPruned.
	// PebbleStore then compacts the pruned span so the disk space comes back.
	Prune(keepFrom uint64, keep ...[]byte) error

	// PruneStep is Prune in bounded steps: the floor rises to keepFrom at
	// once (reads below it return ErrPruned from then on), and each call
	// deletes the old versions of at most limit more keys, going on where
	// the last call stopped. done reports that every key is pruned to the
	// floor. What stays readable is exactly what Prune leaves, at every
	// step. The in-memory twin prunes in one step.
	PruneStep(keepFrom uint64, limit int, keep ...[]byte) (done bool, err error)

	// DropRange deletes every version of every key in [start, end), for
	// data no read needs at any height any more (the audit entries below
	// an audit export anchor). It is not part of a batch and changes
	// neither Last nor the floor; PebbleStore compacts the span in the
	// background so the disk space comes back. An empty range changes
	// nothing.
	DropRange(start, end []byte) error

	// Floor returns the prune floor: the lowest height Get and Scan still
	// answer (0 when nothing was ever pruned).
	Floor() (uint64, error)

	// Restore is RestoreFrom with b's writes as one batch.
	Restore(b Batch) error

	// RestoreFrom loads a snapshot into a store that has never been
	// committed to, a batch at a time from next, so that a snapshot larger
	// than memory can be restored: the writes may carry any version at or
	// below height (each key's newest version as of height), and each batch
	// is checked as Commit checks one (ErrBadWrite). Only after the last
	// batch does it record height and appHash as the last commit and height
	// as the floor, synced: then Last reports them and Commit goes on from
	// there. A store that was committed to (or restored) returns
	// ErrNotEmpty and is left as it is. A store that was never committed to
	// but holds data is what a restore interrupted by an error or a crash
	// leaves (Last still reports 0: no height is claimed); RestoreFrom
	// first deletes that data, so the store ends up holding exactly the
	// new snapshot. An error from next, or a batch refused, ends the
	// restore there, leaving such a store.
	RestoreFrom(height uint64, appHash []byte, next RestoreSource) error

	// Close releases the store. Further calls return ErrClosed.
	Close() error
}
