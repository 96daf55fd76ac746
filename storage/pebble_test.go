package storage

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
)

// testPebbleOptions keeps test stores small.
func testPebbleOptions() PebbleOptions {
	return PebbleOptions{CacheSize: 4 << 20, MemTableSize: 1 << 20}
}

// openPebble opens a store in dir that is closed when the test ends.
func openPebble(t *testing.T, dir string) *PebbleStore {
	t.Helper()
	return openPebbleWith(t, dir, testPebbleOptions())
}

func openPebbleWith(t *testing.T, dir string, opts PebbleOptions) *PebbleStore {
	t.Helper()
	s, err := NewPebbleStore(dir, opts)
	if err != nil {
		t.Fatalf("NewPebbleStore(%q): %v", dir, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// fillForReopen commits a few blocks and prunes, returning what a reopened
// store must show.
func fillForReopen(t *testing.T, s Store) {
	t.Helper()
	commit(t, s, 0, put(0, 0, "g", "genesis"), put(0, 1, "a\x00b", "zero"))
	commit(t, s, 1, put(1, 0, "k", "k1"), put(1, 1, "a", "a1"))
	commit(t, s, 2, put(2, 0, "k", "k2"), del(2, 1, "a"))
	commit(t, s, 3, put(3, 0, "k", "k3"))
	if err := s.Prune(2); err != nil {
		t.Fatal(err)
	}
	commit(t, s, 4, put(4, 7, "k", "k4"))
}

func checkReopened(t *testing.T, s Store) {
	t.Helper()
	if h, hash, err := s.Last(); h != 4 || string(hash) != "hash-4" || err != nil {
		t.Fatalf("Last() after reopen = %d, %q, %v", h, hash, err)
	}
	wantGet(t, s, "k", 0, put(4, 7, "k", "k4"))
	wantGet(t, s, "k", 3, put(3, 0, "k", "k3"))
	wantGet(t, s, "k", 2, put(2, 0, "k", "k2"))
	wantGet(t, s, "a", 0, del(2, 1, "a"))
	wantGet(t, s, "g", 0, put(0, 0, "g", "genesis"))
	wantGet(t, s, "a\x00b", 2, put(0, 1, "a\x00b", "zero"))
	if _, _, err := s.Get([]byte("k"), 1); !errors.Is(err, ErrPruned) {
		t.Fatalf("Get below the floor after reopen: %v, want ErrPruned", err)
	}
	if got := historyAll(t, s, "k", 2); len(got) != 3 {
		t.Fatalf("k history after reopen = %+v", got)
	}
	if err := s.Commit(Batch{Height: 4}); !errors.Is(err, ErrHeightOrder) {
		t.Fatalf("recommit of height 4: %v, want ErrHeightOrder", err)
	}
	commit(t, s, 5, put(5, 0, "k", "k5"))
	wantGet(t, s, "k", 0, put(5, 0, "k", "k5"))
}

func TestPebbleReopen(t *testing.T) {
	dir := t.TempDir()
	s := openPebble(t, dir)
	fillForReopen(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkReopened(t, openPebble(t, dir))
}

// TestPebbleCommitThenClose commits and closes with nothing in between (no
// flush, no further writes), then reopens.
func TestPebbleCommitThenClose(t *testing.T) {
	dir := t.TempDir()
	s := openPebble(t, dir)
	commit(t, s, 1, put(1, 0, "k", "v"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openPebble(t, dir)
	wantGet(t, s, "k", 0, put(1, 0, "k", "v"))
	if h, hash, _ := s.Last(); h != 1 || string(hash) != "hash-1" {
		t.Fatalf("Last() = %d, %q", h, hash)
	}
}

// TestPebbleCrash drops everything that was not synced, as a power cut
// would, and checks that every returned Commit survived.
func TestPebbleCrash(t *testing.T) {
	fs, opts := strictMemOptions(t)
	s, err := NewPebbleStore("db", opts)
	if err != nil {
		t.Fatal(err)
	}
	fillForReopen(t, s)
	fs.SetIgnoreSyncs(true) // nothing from here on reaches "disk"
	commit(t, s, 5, put(5, 0, "k", "lost in the crash"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fs.ResetToSyncedState()
	fs.SetIgnoreSyncs(false)
	checkReopened(t, openPebbleWith(t, "db", opts))
}

// strictMemOptions are the options of a store "db" on a file system in
// memory that can drop what was not synced, as a power cut would.
func strictMemOptions(t *testing.T) (*vfs.MemFS, PebbleOptions) {
	t.Helper()
	fs := vfs.NewStrictMem()
	opts := testPebbleOptions()
	opts.fs = fs
	// Create the directory durably, as an installer would have long ago.
	if err := fs.MkdirAll("db", 0o755); err != nil {
		t.Fatal(err)
	}
	syncDir(t, fs, "")
	return fs, opts
}

func TestPebbleOptionsValidate(t *testing.T) {
	if err := DefaultPebbleOptions().Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (PebbleOptions{}).Validate(); err != nil {
		t.Fatalf("zero options: %v", err)
	}
	bad := PebbleOptions{CacheSize: -1, MemTableSize: 5 << 30, MaxOpenFiles: -2}
	err := bad.Validate()
	if err == nil {
		t.Fatal("Validate accepted bad options")
	}
	for _, want := range []string{"CacheSize is -1", "MemTableSize is 5368709120", "MaxOpenFiles is -2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, missing %q", err, want)
		}
	}
	if _, err := NewPebbleStore(t.TempDir(), bad); err == nil {
		t.Fatal("NewPebbleStore accepted bad options")
	}
}

func TestPebbleRejectsForeignDatabase(t *testing.T) {
	dir := t.TempDir()
	db, err := pebble.Open(dir, &pebble.Options{FS: vfs.Default})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set([]byte("other"), []byte("data"), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err := NewPebbleStore(dir, testPebbleOptions()); err == nil {
		_ = s.Close()
		t.Fatal("NewPebbleStore opened a foreign database")
	}
}

// TestPebbleKeyLayout pins the on-disk key encoding.
func TestPebbleKeyLayout(t *testing.T) {
	k := make([]byte, dataKeyLen([]byte("a\x00b")))
	putDataKey(k, []byte("a\x00b"), Version{Height: 1, Index: 2})
	want := "da\x00\xffb\x00\x01" + "\xff\xff\xff\xff\xff\xff\xff\xfe" + "\xff\xff\xff\xfd"
	if string(k) != want {
		t.Fatalf("data key = %q, want %q", k, want)
	}
	escaped, v, err := splitDataKey(k)
	if err != nil || string(escaped) != "a\x00\xffb" || v != (Version{1, 2}) {
		t.Fatalf("splitDataKey = %q, %v, %v", escaped, v, err)
	}
	if key, err := unescape(escaped); err != nil || string(key) != "a\x00b" {
		t.Fatalf("unescape = %q, %v", key, err)
	}
	for _, bad := range []string{"", "d", "x" + want[1:], want[:len(want)-1], "da\x00\x02" + want[7:]} {
		if _, _, err := splitDataKey([]byte(bad)); err == nil {
			t.Errorf("splitDataKey(%q) accepted a corrupt key", bad)
		}
	}
	if _, err := unescape([]byte("a\x00")); err == nil {
		t.Error("unescape accepted a dangling 0x00")
	}
	if _, _, err := decodeValue([]byte{7}); err == nil {
		t.Error("decodeValue accepted an unknown flag")
	}
}

func syncDir(t *testing.T, fs vfs.FS, dir string) {
	t.Helper()
	d, err := fs.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestPebbleCloseDuringScan closes the store from another goroutine while a
// Scan callback is running: calls made from the callback after Close has
// begun must fail with ErrClosed instead of deadlocking, and Close must wait
// for the Scan to finish.
func TestPebbleCloseDuringScan(t *testing.T) {
	s := openPebble(t, t.TempDir())
	commit(t, s, 1, put(1, 0, "a", "1"), put(1, 1, "b", "2"))
	closed := make(chan error, 1)
	calls := 0
	err := s.Scan(nil, 0, func(Entry) bool {
		calls++
		if calls == 1 {
			go func() { closed <- s.Close() }()
		}
		for !gateClosed(&s.gate) {
			runtime.Gosched()
		}
		select {
		case err := <-closed:
			t.Errorf("Close returned (%v) while a Scan was running", err)
		default:
		}
		if _, _, err := s.Get([]byte("a"), 0); !errors.Is(err, ErrClosed) {
			t.Errorf("Get during Close: %v, want ErrClosed", err)
		}
		return true
	})
	if err != nil || calls != 2 {
		t.Fatalf("Scan = %v after %d calls", err, calls)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func gateClosed(g *closeGate) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closed
}

// FuzzDataKey: decoding arbitrary bytes never panics, and encode → decode
// round-trips every key and version.
func FuzzDataKey(f *testing.F) {
	for _, k := range []string{"a", "a\x00", "\x00\x00", "\xff", "a\x00\xffb"} {
		f.Add([]byte(k), uint64(1), uint32(2))
	}
	f.Fuzz(func(t *testing.T, key []byte, height uint64, index uint32) {
		if escaped, _, err := splitDataKey(key); err == nil {
			_, _ = unescape(escaped)
		}
		_, _, _ = decodeValue(key)
		if len(key) == 0 {
			return
		}
		v := Version{height, index}
		k := make([]byte, dataKeyLen(key))
		putDataKey(k, key, v)
		escaped, gotV, err := splitDataKey(k)
		if err != nil || gotV != v {
			t.Fatalf("splitDataKey(%x) = %v, %v; want %v", k, gotV, err, v)
		}
		got, err := unescape(escaped)
		if err != nil || !bytes.Equal(got, key) {
			t.Fatalf("unescape = %x, %v; want %x", got, err, key)
		}
		if lower, upper := keyBounds(key); bytes.Compare(lower, k) > 0 || bytes.Compare(k, upper) >= 0 {
			t.Fatalf("data key %x outside its bounds [%x, %x)", k, lower, upper)
		}
	})
}

// TestPebbleCommitOutOfOrderAndRepeatedWrites: a batch's writes go to
// Pebble sorted by key, so a batch in any order, with one key written twice
// at one version (the later wins) and keys that sort before and after each
// other, reads back as the memory store reads it, also after a reopen.
func TestPebbleCommitOutOfOrderAndRepeatedWrites(t *testing.T) {
	dir := t.TempDir()
	p := openPebble(t, dir)
	m := NewInMemoryStore()
	writes := []Entry{
		put(1, 0, "z", "z1"), put(1, 1, "a", "a1"), put(1, 2, "m", "first"),
		put(1, 2, "m", "second"), put(1, 3, "a\x00b", "zero"), del(1, 4, "z"),
		put(1, 5, "k", "k-then-deleted"), del(1, 5, "k"),
	}
	for _, s := range []Store{p, m} {
		commit(t, s, 1, writes...)
	}
	check := func(s Store) {
		t.Helper()
		wantGet(t, s, "m", 0, put(1, 2, "m", "second"))
		wantGet(t, s, "a", 0, put(1, 1, "a", "a1"))
		wantGet(t, s, "a\x00b", 0, put(1, 3, "a\x00b", "zero"))
		wantGet(t, s, "z", 0, del(1, 4, "z"))
		wantGet(t, s, "k", 0, del(1, 5, "k"))
	}
	check(m)
	check(p)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	check(openPebble(t, dir))
}
