package storage

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
)

// PebbleOptions configures a PebbleStore. A zero field means the value from
// DefaultPebbleOptions.
type PebbleOptions struct {
	// CacheSize is the block cache size in bytes.
	CacheSize int64
	// MemTableSize is the size of one memtable in bytes. A block's batch
	// larger than half of it bypasses the memtable (pebble's large-batch
	// path), which is correct but slower.
	MemTableSize int64
	// MaxOpenFiles is a soft limit on the files pebble keeps open.
	MaxOpenFiles int
	// Logger receives pebble's informational messages at debug level. nil
	// discards them.
	Logger *slog.Logger

	// fs replaces the OS file system; tests use it to simulate crashes.
	fs vfs.FS
}

// DefaultPebbleOptions returns options sized for a small (2-core) node: a
// 64 MiB block cache, 32 MiB memtables (a 20k-write block fits comfortably)
// and one background compaction.
func DefaultPebbleOptions() PebbleOptions {
	return PebbleOptions{
		CacheSize:    64 << 20,
		MemTableSize: 32 << 20,
		MaxOpenFiles: 500,
	}
}

// maxMemTableSize is pebble's limit on MemTableSize (exclusive).
const maxMemTableSize = 4 << 30

// Validate reports every invalid field at once.
func (o PebbleOptions) Validate() error {
	var errs []error
	if o.CacheSize < 0 {
		errs = append(errs, fmt.Errorf("CacheSize is %d, must be >= 0", o.CacheSize))
	}
	if o.MemTableSize < 0 || o.MemTableSize >= maxMemTableSize {
		errs = append(errs, fmt.Errorf("MemTableSize is %d, must be in [0, %d)", o.MemTableSize, int64(maxMemTableSize)))
	}
	if o.MaxOpenFiles < 0 {
		errs = append(errs, fmt.Errorf("MaxOpenFiles is %d, must be >= 0", o.MaxOpenFiles))
	}
	if len(errs) > 0 {
		return fmt.Errorf("storage: invalid pebble options: %w", errors.Join(errs...))
	}
	return nil
}

// withDefaults fills zero fields from DefaultPebbleOptions.
func (o PebbleOptions) withDefaults() PebbleOptions {
	d := DefaultPebbleOptions()
	o.CacheSize = cmp.Or(o.CacheSize, d.CacheSize)
	o.MemTableSize = cmp.Or(o.MemTableSize, d.MemTableSize)
	o.MaxOpenFiles = cmp.Or(o.MaxOpenFiles, d.MaxOpenFiles)
	return o
}

// PebbleStore is the on-disk Store, backed by CockroachDB's pebble (the
// engine CometBFT itself uses). See doc.go for the key layout.
type PebbleStore struct {
	db   *pebble.DB
	gate closeGate

	// writeMu serialises Commit and Prune.
	writeMu sync.Mutex
	// last is the newest commit; floor the oldest readable height. Both are
	// published only after the data they describe is readable (last) or
	// before the data below them is removed (floor).
	last  atomic.Pointer[lastCommit]
	floor atomic.Uint64
	// pass is PruneStep's progress (guarded by writeMu); log reports
	// failures of the background compactions after pruning.
	pass prunePass
	log  pebbleLogger
}

var _ Store = (*PebbleStore)(nil)

// lastCommit records the newest committed batch.
type lastCommit struct {
	height    uint64
	appHash   []byte
	committed bool // false until the first Commit
}

// NewPebbleStore opens (creating if needed) the store in dir.
func NewPebbleStore(dir string, opts PebbleOptions) (*PebbleStore, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	cache := pebble.NewCache(opts.CacheSize)
	defer cache.Unref() // the DB holds its own reference
	popts := &pebble.Options{
		Cache:                    cache,
		MemTableSize:             uint64(opts.MemTableSize),
		MaxOpenFiles:             opts.MaxOpenFiles,
		MaxConcurrentCompactions: func() int { return 1 },
		FormatMajorVersion:       pebble.FormatNewest,
		Logger:                   pebbleLogger{opts.Logger},
		FS:                       opts.fs,
	}
	db, err := pebble.Open(dir, popts)
	if err != nil {
		return nil, fmt.Errorf("storage: open pebble store %q: %w", dir, err)
	}
	s := &PebbleStore{db: db, log: pebbleLogger{opts.Logger}}
	if err := s.load(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("storage: open pebble store %q: %w", dir, err)
	}
	return s, nil
}

// load checks the on-disk format (stamping it on a new store) and reads the
// last commit and prune floor.
func (s *PebbleStore) load() error {
	format, found, err := s.getMeta(metaFormatKey)
	switch {
	case err != nil:
		return err
	case !found:
		empty, err := s.isEmpty()
		if err != nil {
			return err
		}
		if !empty {
			return errors.New("directory holds a pebble database that is not a dstt store")
		}
		if err := s.db.Set(metaFormatKey, encodeUint64(formatVersion), pebble.Sync); err != nil {
			return err
		}
	default:
		v, err := decodeUint64(format, "format")
		if err != nil {
			return err
		}
		if v != formatVersion {
			return fmt.Errorf("on-disk format %d, this build reads format %d", v, formatVersion)
		}
	}

	last := &lastCommit{}
	if b, found, err := s.getMeta(metaLastKey); err != nil {
		return err
	} else if found {
		if last.height, last.appHash, err = decodeLast(b); err != nil {
			return err
		}
		last.committed = true
	}
	s.last.Store(last)

	if b, found, err := s.getMeta(metaFloorKey); err != nil {
		return err
	} else if found {
		floor, err := decodeUint64(b, "prune floor")
		if err != nil {
			return err
		}
		s.floor.Store(floor)
	}
	return nil
}

// getMeta returns a copy of the value stored under a meta key.
func (s *PebbleStore) getMeta(key []byte) ([]byte, bool, error) {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := append([]byte{}, v...)
	return out, true, closer.Close()
}

// isEmpty reports whether the database holds no keys at all.
func (s *PebbleStore) isEmpty() (empty bool, err error) {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return false, err
	}
	defer closeIter(it, &err)
	return !it.First(), it.Error()
}

// closeIter closes it, keeping the first error in *err.
func closeIter(it *pebble.Iterator, err *error) {
	if cerr := it.Close(); cerr != nil && *err == nil {
		*err = fmt.Errorf("storage: pebble iterator: %w", cerr)
	}
}

// checkHeight returns ErrPruned if height is below the prune floor. Reads
// call it after creating their iterator: Prune raises the floor before it
// deletes anything, so an iterator that can see pruned data is always
// followed by a check that sees the raised floor.
func (s *PebbleStore) checkHeight(height uint64) error {
	if floor := s.floor.Load(); height != 0 && height < floor {
		return fmt.Errorf("%w: height %d, oldest retained height %d", ErrPruned, height, floor)
	}
	return nil
}

// readAt returns the newest version visible at height (0 = latest).
func readAt(height uint64) Version {
	if height == 0 {
		return Version{Height: math.MaxUint64, Index: math.MaxUint32}
	}
	return Version{Height: height, Index: math.MaxUint32}
}

// Get implements Store.
func (s *PebbleStore) Get(key []byte, height uint64) (e Entry, ok bool, err error) {
	if !s.gate.enter() {
		return Entry{}, false, ErrClosed
	}
	defer s.gate.leave()
	lower, upper := keyBounds(key)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return Entry{}, false, fmt.Errorf("storage: get: %w", err)
	}
	defer closeIter(it, &err)
	if err := s.checkHeight(height); err != nil {
		return Entry{}, false, err
	}
	if !it.SeekGE(versionSeekKey(key, readAt(height))) {
		return Entry{}, false, it.Error()
	}
	e, err = currentEntry(it, key)
	if err != nil {
		return Entry{}, false, err
	}
	return e, true, nil
}

// currentEntry decodes the iterator's current version. If key is nil the
// user key is decoded from the data key; otherwise a copy of key is used.
func currentEntry(it *pebble.Iterator, key []byte) (Entry, error) {
	escaped, v, err := splitDataKey(it.Key())
	if err != nil {
		return Entry{}, err
	}
	if key == nil {
		if key, err = unescape(escaped); err != nil {
			return Entry{}, err
		}
	} else {
		key = append([]byte{}, key...)
	}
	raw, err := it.ValueAndErr()
	if err != nil {
		return Entry{}, fmt.Errorf("storage: read value: %w", err)
	}
	value, deleted, err := decodeValue(raw)
	if err != nil {
		return Entry{}, err
	}
	return Entry{Key: key, Value: value, Version: v, Deleted: deleted}, nil
}

// defaultHistoryLimit is History's page size when limit <= 0.
const defaultHistoryLimit = 100

// History implements Store.
func (s *PebbleStore) History(key []byte, before Version, limit int) (out []Entry, err error) {
	if !s.gate.enter() {
		return nil, ErrClosed
	}
	defer s.gate.leave()
	if limit <= 0 {
		limit = defaultHistoryLimit
	}
	lower, upper := keyBounds(key)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, fmt.Errorf("storage: history: %w", err)
	}
	defer closeIter(it, &err)

	var ok bool
	if before.IsZero() {
		ok = it.First()
	} else if ok = it.SeekGE(versionSeekKey(key, before)); ok {
		_, v, err := splitDataKey(it.Key())
		if err != nil {
			return nil, err
		}
		if v == before { // strictly older than before
			ok = it.Next()
		}
	}
	for ; ok && len(out) < limit; ok = it.Next() {
		e, err := currentEntry(it, key)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := it.Error(); err != nil {
		return nil, err
	}
	return out, nil
}

// scanNextTries is how many versions Scan steps over with Next before it
// seeks past the rest of a key's history.
const scanNextTries = 4

// Scan implements Store. fn runs while the scan's pebble iterator is open;
// it may call other Store methods but must not call Close.
func (s *PebbleStore) Scan(prefix []byte, height uint64, fn func(Entry) bool) (err error) {
	if !s.gate.enter() {
		return ErrClosed
	}
	defer s.gate.leave()
	lower, upper := prefixBounds(prefix)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("storage: scan: %w", err)
	}
	defer closeIter(it, &err)
	if err := s.checkHeight(height); err != nil {
		return err
	}
	err = eachVisible(it, readAt(height), func(cur []byte) (bool, error) {
		e, err := currentEntry(it, nil)
		if err != nil {
			return false, err
		}
		if !e.Deleted && !fn(e) {
			return false, nil
		}
		return skipKey(it, cur), nil
	})
	if err != nil {
		return err
	}
	return it.Error()
}

// eachVisible walks it (over data keys) key by key. For each key with a
// version at or below at, it calls fn with it at the newest such version and
// cur that key's prefix ('d' | escape(key) | 0x00 0x01, reused between
// calls); fn moves it past the key and reports whether it is still valid.
// Keys whose versions are all newer than at are skipped.
func eachVisible(it *pebble.Iterator, at Version, fn func(cur []byte) (bool, error)) error {
	var cur, seek []byte
	ok := it.First()
	for ok {
		escaped, v, err := splitDataKey(it.Key())
		if err != nil {
			return err
		}
		cur = append(append(append(cur[:0], dataTag), escaped...), escapeByte, terminatorByte)
		if v.Height > at.Height {
			// Newer than at: jump to the newest version at or below it.
			seek = append(append(seek[:0], cur...), make([]byte, versionLen)...)
			putVersion(seek[len(cur):], at)
			if ok = it.SeekGE(seek); !ok || !bytes.HasPrefix(it.Key(), cur) {
				continue // the key has no version at or below at
			}
		}
		if ok, err = fn(cur); err != nil {
			return err
		}
	}
	return nil
}

// skipKey moves it to the first version of the next key after the one whose
// versions start with cur.
func skipKey(it *pebble.Iterator, cur []byte) bool {
	for range scanNextTries {
		if !it.Next() {
			return false
		}
		if !bytes.HasPrefix(it.Key(), cur) {
			return true
		}
	}
	end := append(cur[:len(cur)-1:len(cur)-1], keyEndByte)
	return it.SeekGE(end)
}

// Commit implements Store. It validates the whole batch, encodes it into
// one pebble batch together with the last-commit record, and applies it
// with pebble.Sync.
func (s *PebbleStore) Commit(b Batch) error {
	if !s.gate.enter() {
		return ErrClosed
	}
	defer s.gate.leave()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	last := s.last.Load()
	if err := b.validate(last.height, last.committed); err != nil {
		return err
	}
	if !last.committed {
		if err := s.refuseInterrupted(); err != nil {
			return err
		}
	}

	size := len(metaLastKey) + 8 + len(b.AppHash) + 32
	for i := range b.Writes {
		size += len(b.Writes[i].Key) + len(b.Writes[i].Value) + dataOverhead + 1 + 12
	}
	batch := s.db.NewBatchWithSize(size)
	defer batch.Close()
	if err := putWrites(batch, b.Writes); err != nil {
		return fmt.Errorf("storage: commit height %d: %w", b.Height, err)
	}
	if err := batch.Set(metaLastKey, encodeLast(b.Height, b.AppHash), nil); err != nil {
		return fmt.Errorf("storage: commit height %d: %w", b.Height, err)
	}
	if err := s.db.Apply(batch, pebble.Sync); err != nil {
		return fmt.Errorf("storage: commit height %d: %w", b.Height, err)
	}
	s.last.Store(&lastCommit{height: b.Height, appHash: append([]byte{}, b.AppHash...), committed: true})
	return nil
}

// putWrites adds the data keys and values of ws to batch in data-key
// order. Pebble inserts a batch into its memtable (a skiplist) in batch
// order, and each insert searches from the previous one, so sorted writes
// cost far less than writes in execution order. The sort is stable: two
// writes of one key at one version keep their order, and the later wins
// as before. What the store holds afterwards is the same in any order.
func putWrites(batch *pebble.Batch, ws []Entry) error {
	n := 0
	for i := range ws {
		n += dataKeyLen(ws[i].Key)
	}
	keys := make([]byte, n) // every data key, ws[i]'s at keys[at[i]:at[i+1]]
	at := make([]int, len(ws)+1)
	for i := range ws {
		l := dataKeyLen(ws[i].Key)
		at[i+1] = at[i] + l
		putDataKey(keys[at[i]:at[i+1]], ws[i].Key, ws[i].Version)
	}
	key := func(i int) []byte { return keys[at[i]:at[i+1]] }
	order := make([]int, len(ws))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		if c := bytes.Compare(key(a), key(b)); c != 0 {
			return c
		}
		return cmp.Compare(a, b) // stable: a key's writes keep their order
	})
	for _, i := range order {
		w := &ws[i]
		valueLen := 1
		if !w.Deleted {
			valueLen += len(w.Value)
		}
		op := batch.SetDeferred(at[i+1]-at[i], valueLen)
		copy(op.Key, key(i))
		if w.Deleted {
			op.Value[0] = flagTombstone
		} else {
			op.Value[0] = flagValue
			copy(op.Value[1:], w.Value)
		}
		if err := op.Finish(); err != nil {
			return err
		}
	}
	return nil
}

// Last implements Store.
func (s *PebbleStore) Last() (uint64, []byte, error) {
	if !s.gate.enter() {
		return 0, nil, ErrClosed
	}
	defer s.gate.leave()
	last := s.last.Load()
	return last.height, cloneHash(last.appHash), nil
}

// cloneHash copies an app hash, returning nil for an empty one.
func cloneHash(h []byte) []byte {
	if len(h) == 0 {
		return nil
	}
	return append([]byte(nil), h...)
}

// Close implements Store. It waits for reads in flight to finish.
func (s *PebbleStore) Close() error {
	if !s.gate.close() {
		return ErrClosed
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("storage: close pebble store: %w", err)
	}
	return nil
}

// pebbleLogger adapts an optional *slog.Logger to pebble's Logger.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	if p.l != nil {
		p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
	}
}

// Fatalf is called by pebble on faults it cannot continue from (its default
// logger exits the process); it logs and panics so the caller never sees a
// half-applied write reported as success.
func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if p.l != nil {
		p.l.Error(msg, "component", "pebble")
	}
	panic("storage: pebble: " + msg)
}
