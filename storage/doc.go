// Package storage is dstt's versioned (MVCC) key-value store: the state the
// transaction engine reads and the one atomic batch per block it writes.
//
// # Implementations
//
// Store (store.go) is the contract. PebbleStore (NewPebbleStore) keeps the
// data on disk in pebble, the engine CometBFT itself uses. MemoryStore
// (NewInMemoryStore) is its in-memory twin for tests and tools: same
// semantics, same errors, same answers to every query, no durability. One
// conformance suite (store_test.go) runs against both, plus a seeded
// differential test that checks they agree op for op.
//
// # Call order
//
// A store starts empty: Last returns (0, nil). The first Commit may be at
// any height, including 0 (the genesis state, committed at most once);
// after that every Commit must be strictly above the last. The ABCI layer
// stages a block's writes during FinalizeBlock and hands them to Commit as
// one Batch; Last then reports that batch's height and app hash, which is
// what Info returns in CometBFT's handshake. Prune may be called at any
// time; Close ends everything.
//
//	s, err := storage.NewPebbleStore(dir, storage.DefaultPebbleOptions())
//	h, appHash, err := s.Last()                   // resume point
//	err = s.Commit(storage.Batch{Height: h + 1, AppHash: hash, Writes: ws})
//	e, ok, err := s.Get(key, 0)                   // latest
//	e, ok, err = s.Get(key, h)                    // as of height h
//	err = s.Prune(h + 1 - retain)                 // keep `retain` heights
//	err = s.Close()
//
// # Versions and reads
//
// Every write carries Version{Height, Index}: the batch height and the
// transaction index inside the block, so a key may get several versions in
// one block. Two writes of the same key and version in one batch: the later
// wins. A delete is a tombstone version (Deleted true, Value nil; a Value
// given with Deleted is dropped). A live value always comes back non-nil,
// even when empty. Everything returned is a copy the caller owns, and a
// store keeps copies of what it is given.
//
// Get(key, h) is the newest version at height <= h (h = 0: latest); a
// tombstone comes back with ok true and Deleted true. Heights above the
// last commit simply see the latest state. History pages newest first:
// pass the last entry's Version as the next call's before. Because the zero
// Version means "from the newest", a genesis write at Version{0, 0} can end
// a page but cannot start the next one; stop paging when a page comes back
// shorter than limit or its last entry has the zero Version. Scan visits
// live keys with a prefix in ascending byte order at one height.
//
// # Errors
//
// All errors from store.go come wrapped with %w, with the offending values
// in the message; test with errors.Is.
//
//   - ErrHeightOrder: Commit below or at the last committed height.
//   - ErrBadWrite: Commit with an empty key, a write whose Version.Height is
//     not the batch height, or a batch over 2 GiB encoded.
//   - ErrPruned: Get or Scan at a height h != 0 below the prune floor.
//     History never returns it: it lists whatever versions are retained.
//   - ErrNotEmpty: Restore or RestoreFrom into a store that was committed
//     to; Commit into a store that holds an unfinished restore.
//   - ErrClosed: any call after Close, including a second Close.
//
// Commit validates the whole batch before writing anything, so a rejected
// batch leaves the store exactly as it was. Other errors (I/O, corruption)
// are returned as-is; the store never panics on bad input.
//
// # Pruning
//
// Prune(keepFrom) raises the floor to keepFrom (never lowers it) and drops,
// for every key, the versions older than its newest version at or below
// keepFrom. Reads at heights >= keepFrom, and latest reads, return the
// same answers as before; the newest version of every key, tombstones
// included, is always kept. PebbleStore records the floor durably before
// deleting anything, so a crash mid-prune leaves only unreadable leftovers
// that the next Prune removes.
//
// PruneStep(keepFrom, limit) does the same work in bounded steps: the floor
// rises at once, and each call visits at most limit more keys of a pass
// over all of them (PebbleStore compacts a finished pass's span on a
// background goroutine that Close waits for). Between steps reads answer
// exactly as after Prune. DropRange deletes every version of a key range
// that no read needs any more (the audit entries below an audit anchor).
//
// # Restoring a snapshot
//
// A node rebuilt from a snapshot starts with RestoreFrom instead of its
// first Commit: the snapshot's entries come from a RestoreSource a batch at
// a time, so memory holds one batch whatever the snapshot's size (Restore
// is the same with one batch). The last commit and the floor are recorded
// after the last batch, synced (PebbleStore applies the batches unsynced:
// its write-ahead log is one sequence, so that sync makes them durable
// too). A restore that ends early, by an error or a crash, leaves data but
// no last commit (Last reports 0); the next RestoreFrom deletes that data
// first, so the store holds exactly the snapshot it restores; Commit
// refuses such a store. A store that was committed to refuses both
// restores with ErrNotEmpty.
//
// # Concurrency
//
// Both stores are safe for concurrent use. Commit, Prune, PruneStep and
// DropRange are serialised;
// reads run alongside them and see a commit entirely or not at all. Scan's
// callback may call other methods; in PebbleStore it runs while the scan's
// iterator is open (keep it short), in MemoryStore after the matching
// entries have been copied out. Nothing may call Close from inside a Scan
// callback. Close waits for calls in flight to return.
//
// # PebbleStore layout and durability
//
// Data keys are
//
//	'd' | escape(key) | 0x00 0x01 | ^height (8 bytes, big-endian) | ^index (4 bytes, big-endian)
//
// where escape writes each 0x00 byte of the key as 0x00 0xFF. Keys sort in
// raw byte order, the versions of one key are exactly the range
// ['d'|escape(key)|0x00 0x01, 'd'|escape(key)|0x00 0x02) — so "a" never
// sees the versions of "a\x00b" or "ab" — and the inverted height and index
// put the newest version first: Get at a height and each History page are
// one seek. Values are a flag byte (0x00 value, 0x01 tombstone) followed by
// the value bytes. Meta keys ('m' | name) hold the format version, the last
// commit (height, 8 bytes big-endian, then the app hash) and the prune
// floor.
//
// Commit writes a block's data and its last-commit record in one pebble
// batch applied with pebble.Sync: once Commit returns, the block survives a
// crash, and after a crash either all of a block is there, with Last
// reporting it, or none of it is.
package storage
